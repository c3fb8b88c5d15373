"""What both drills share: the two statuses and the bad-options error."""

from peak_settings import SettingError

PASS, FAIL = "pass", "fail"

#: Bad options: exit 2 (the one settings error of peak_settings).
DrillError = SettingError
