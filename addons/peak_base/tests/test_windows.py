"""Plain pytest tests for ``peak_base/lib/windows.py`` (no Odoo needed).

Every expected UTC value is worked out by hand in the comments, never
recomputed with the module under test.  2025 reference dates: Mon 2025-01-06;
Europe/Paris switches on Sun 2025-03-30 (CET+1 -> CEST+2 at 01:00 UTC) and
Sun 2025-10-26 (back at 01:00 UTC); America/New_York on Sun 2025-03-09
(EST-5 -> EDT-4 at 07:00 UTC) and Sun 2025-11-02 (back at 06:00 UTC).
"""

import importlib.util
import math
import pathlib
from datetime import UTC, datetime, time, timedelta
from types import ModuleType

import pytest


def _load_windows() -> ModuleType:
    """Load lib/windows.py by path: ``odoo.addons.peak_base`` needs Odoo."""
    path = pathlib.Path(__file__).resolve().parent.parent / "lib" / "windows.py"
    spec = importlib.util.spec_from_file_location("peak_windows", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


windows = _load_windows()

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def window(days, start: str, end: str, tz: str = "Europe/Paris"):
    return windows.WeeklyWindow(
        frozenset(days), time.fromisoformat(start), time.fromisoformat(end), tz
    )


def only_interval(win, since: datetime, until: datetime):
    intervals = windows.window_intervals(win, since, until)
    assert len(intervals) == 1, intervals
    return intervals[0]


# --- plain occurrences (Paris winter: local = UTC + 1) ---------------------

TUESDAY_DAY = window([TUE], "09:00", "17:00")  # Tue 2025-01-07: 08:00Z-16:00Z


def test_inside_returns_the_occurrence():
    assert windows.current_interval([TUESDAY_DAY], utc(2025, 1, 7, 10)) == (
        utc(2025, 1, 7, 8),
        utc(2025, 1, 7, 16),
    )


@pytest.mark.parametrize(
    "at",
    [utc(2025, 1, 7, 7, 59), utc(2025, 1, 7, 16, 30), utc(2025, 1, 8, 10)],
    ids=["before", "after", "other-weekday"],
)
def test_outside_returns_none(at):
    assert windows.current_interval([TUESDAY_DAY], at) is None


def test_start_is_inclusive():
    assert windows.current_interval([TUESDAY_DAY], utc(2025, 1, 7, 8)) is not None


def test_end_is_exclusive():
    last_instant = utc(2025, 1, 7, 16) - timedelta(microseconds=1)
    assert windows.current_interval([TUESDAY_DAY], last_instant) is not None
    assert windows.current_interval([TUESDAY_DAY], utc(2025, 1, 7, 16)) is None


def test_window_spanning_midnight():
    # Mon 2025-01-06 22:00 local = 21:00Z -> Tue 02:00 local = 01:00Z.
    win = window([MON], "22:00", "02:00")
    assert windows.current_interval([win], utc(2025, 1, 7, 0, 30)) == (
        utc(2025, 1, 6, 21),
        utc(2025, 1, 7, 1),
    )


def test_sunday_window_wraps_to_monday():
    # Sun 2025-01-12 22:00 local = 21:00Z -> Mon 2025-01-13 02:00 = 01:00Z.
    win = window([SUN], "22:00", "02:00")
    assert windows.current_interval([win], utc(2025, 1, 13, 0, 30)) == (
        utc(2025, 1, 12, 21),
        utc(2025, 1, 13, 1),
    )
    assert windows.current_interval([win], utc(2025, 1, 13, 1)) is None


def test_window_intervals_lists_each_weekday_in_order():
    win = window([THU, MON], "08:00", "12:00")
    assert windows.window_intervals(win, utc(2025, 1, 6), utc(2025, 1, 13)) == [
        (utc(2025, 1, 6, 7), utc(2025, 1, 6, 11)),
        (utc(2025, 1, 9, 7), utc(2025, 1, 9, 11)),
    ]


def test_window_intervals_keeps_occurrence_begun_before_since_unclipped():
    win = window([MON], "22:00", "02:00")
    assert windows.window_intervals(win, utc(2025, 1, 7, 0), utc(2025, 1, 7, 6)) == [
        (utc(2025, 1, 6, 21), utc(2025, 1, 7, 1))
    ]


def test_window_intervals_excludes_occurrence_ending_at_since():
    win = window([MON], "08:00", "12:00")  # 07:00Z-11:00Z on Mon 2025-01-06
    assert windows.window_intervals(win, utc(2025, 1, 6, 11), utc(2025, 1, 7)) == []


def test_window_intervals_empty_range_is_empty():
    win = window([MON], "08:00", "12:00")
    assert windows.window_intervals(win, utc(2025, 1, 6, 9), utc(2025, 1, 6, 9)) == []


# --- daylight-saving time --------------------------------------------------


TRANSITION_IDS = ["paris-spring", "paris-autumn", "new-york-spring", "new-york-autumn"]


@pytest.mark.parametrize(
    ("tz", "expected_start", "expected_end", "hours"),
    [
        # Paris spring: 01:00 CET = 00:00Z; 04:00 CEST = 02:00Z.
        ("Europe/Paris", utc(2025, 3, 30, 0), utc(2025, 3, 30, 2), 2),
        # Paris autumn: 01:00 CEST = 23:00Z the day before; 04:00 CET = 03:00Z.
        ("Europe/Paris", utc(2025, 10, 25, 23), utc(2025, 10, 26, 3), 4),
        # New York spring: 01:00 EST = 06:00Z; 04:00 EDT = 08:00Z.
        ("America/New_York", utc(2025, 3, 9, 6), utc(2025, 3, 9, 8), 2),
        # New York autumn: 01:00 EDT (first) = 05:00Z; 04:00 EST = 09:00Z.
        ("America/New_York", utc(2025, 11, 2, 5), utc(2025, 11, 2, 9), 4),
    ],
    ids=TRANSITION_IDS,
)
def test_transition_day_window_lasts_real_hours(
    tz, expected_start, expected_end, hours
):
    win = window([SUN], "01:00", "04:00", tz)
    since = expected_start - 12 * HOUR
    start, end = only_interval(win, since, since + 24 * HOUR)
    assert (start, end) == (expected_start, expected_end)
    assert end - start == hours * HOUR


@pytest.mark.parametrize(
    ("tz", "expected_start", "expected_end", "hours"),
    [
        # Sat 2025-03-29 22:00 CET = 21:00Z -> Sun 06:00 CEST = 04:00Z.
        ("Europe/Paris", utc(2025, 3, 29, 21), utc(2025, 3, 30, 4), 7),
        # Sat 2025-10-25 22:00 CEST = 20:00Z -> Sun 06:00 CET = 05:00Z.
        ("Europe/Paris", utc(2025, 10, 25, 20), utc(2025, 10, 26, 5), 9),
        # Sat 2025-03-08 22:00 EST = 03:00Z -> Sun 06:00 EDT = 10:00Z.
        ("America/New_York", utc(2025, 3, 9, 3), utc(2025, 3, 9, 10), 7),
        # Sat 2025-11-01 22:00 EDT = 02:00Z -> Sun 06:00 EST = 11:00Z.
        ("America/New_York", utc(2025, 11, 2, 2), utc(2025, 11, 2, 11), 9),
    ],
    ids=TRANSITION_IDS,
)
def test_night_window_crossing_transition(tz, expected_start, expected_end, hours):
    win = window([SAT], "22:00", "06:00", tz)
    expected = (expected_start, expected_end)
    # Asked just after it opens and just before it closes (after the switch).
    assert windows.current_interval([win], expected_start) == expected
    assert windows.current_interval([win], expected_end - HOUR) == expected
    assert windows.current_interval([win], expected_end) is None
    assert expected_end - expected_start == hours * HOUR


def test_window_starting_in_the_nonexistent_hour_lands_after_the_gap():
    # 02:30 does not exist on 2025-03-30 in Paris; read with CET it is 01:30Z
    # (03:30 CEST).  05:00 CEST = 03:00Z.
    win = window([SUN], "02:30", "05:00")
    assert only_interval(win, utc(2025, 3, 30), utc(2025, 3, 30, 12)) == (
        utc(2025, 3, 30, 1, 30),
        utc(2025, 3, 30, 3),
    )


def test_occurrence_swallowed_by_the_gap_is_dropped():
    # 02:30 -> 03:30 CEST but 03:10 CEST ends earlier: nothing on 2025-03-30.
    # Next Sunday 2025-04-06: 02:30 CEST = 00:30Z, 03:10 CEST = 01:10Z.
    win = window([SUN], "02:30", "03:10")
    assert windows.window_intervals(win, utc(2025, 3, 29), utc(2025, 4, 7)) == [
        (utc(2025, 4, 6, 0, 30), utc(2025, 4, 6, 1, 10))
    ]


@pytest.mark.parametrize("fold", [0, 1])
def test_ambiguous_start_uses_first_occurrence(fold):
    # 02:30 happens twice on 2025-10-26 in Paris; the first is CEST = 00:30Z,
    # even if the caller passes fold=1.  05:00 CET = 04:00Z.
    win = windows.WeeklyWindow(
        frozenset([SUN]), time(2, 30, fold=fold), time(5), "Europe/Paris"
    )
    assert only_interval(win, utc(2025, 10, 26), utc(2025, 10, 26, 12)) == (
        utc(2025, 10, 26, 0, 30),
        utc(2025, 10, 26, 4),
    )


def test_ambiguous_end_uses_first_occurrence():
    # Sat 2025-10-25 23:00 CEST = 21:00Z -> Sun 02:30 first (CEST) = 00:30Z.
    win = window([SAT], "23:00", "02:30")
    assert only_interval(win, utc(2025, 10, 25, 12), utc(2025, 10, 26, 12)) == (
        utc(2025, 10, 25, 21),
        utc(2025, 10, 26, 0, 30),
    )


# --- next_start ------------------------------------------------------------

WEDNESDAY_MORNING = window([WED], "10:00", "12:00")


def test_next_start_waits_a_week_for_a_single_weekday():
    # At Wed 2025-01-15 12:00 local (just closed) -> Wed 01-22 10:00 = 09:00Z.
    assert windows.next_start([WEDNESDAY_MORNING], utc(2025, 1, 15, 11)) == utc(
        2025, 1, 22, 9
    )


def test_next_start_is_strictly_after_at():
    assert windows.next_start([WEDNESDAY_MORNING], utc(2025, 1, 15, 9)) == utc(
        2025, 1, 22, 9
    )


def test_next_start_across_spring_forward_week():
    # Wed 2025-04-02 10:00 is CEST, i.e. 08:00Z (not 09:00Z as the week before).
    assert windows.next_start([WEDNESDAY_MORNING], utc(2025, 3, 26, 11)) == utc(
        2025, 4, 2, 8
    )


def test_next_start_none_without_windows_or_beyond_horizon():
    assert windows.next_start([], utc(2025, 1, 15, 11)) is None
    assert (
        windows.next_start(
            [WEDNESDAY_MORNING], utc(2025, 1, 15, 11), horizon=timedelta(days=6)
        )
        is None
    )


# --- merging ---------------------------------------------------------------

MORNING = window([MON], "08:00", "12:00")  # Mon 2025-01-06 07:00Z-11:00Z
AFTERNOON = window([MON], "12:00", "16:00")  # Mon 2025-01-06 11:00Z-15:00Z


@pytest.mark.parametrize("order", [(MORNING, AFTERNOON), (AFTERNOON, MORNING)])
def test_touching_windows_merge_into_one_interval(order):
    assert windows.current_interval(order, utc(2025, 1, 6, 8)) == (
        utc(2025, 1, 6, 7),
        utc(2025, 1, 6, 15),
    )


def test_window_nested_in_another_does_not_shorten_it():
    # Paris 08-16 = 07:00Z-15:00Z contains 10-12; fulfillment stops at 15:00Z.
    nested = window([MON], "10:00", "12:00")
    whole_day = window([MON], "08:00", "16:00")
    assert windows.current_interval([whole_day, nested], utc(2025, 1, 6, 8)) == (
        utc(2025, 1, 6, 7),
        utc(2025, 1, 6, 15),
    )


def test_overlapping_windows_in_different_zones_merge():
    # Paris 08-12 = 07:00Z-11:00Z; London (UTC in winter) 10-15 = 10:00Z-15:00Z.
    london = window([MON], "10:00", "15:00", "Europe/London")
    assert windows.current_interval([MORNING, london], utc(2025, 1, 6, 8)) == (
        utc(2025, 1, 6, 7),
        utc(2025, 1, 6, 15),
    )


def test_next_start_skips_a_window_that_continues_the_current_one():
    # The 12:00 afternoon start is not a new opening: next is Mon 01-13 07:00Z.
    assert windows.next_start([MORNING, AFTERNOON], utc(2025, 1, 6, 8)) == utc(
        2025, 1, 13, 7
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2025, 1, 6, 8), (True, utc(2025, 1, 6, 15), utc(2025, 1, 13, 7))),
        (utc(2025, 1, 6, 15), (False, None, utc(2025, 1, 13, 7))),
    ],
    ids=["active", "closed"],
)
def test_window_status(at, expected):
    status = windows.window_status([MORNING, AFTERNOON], at)
    assert status == windows.WindowStatus(*expected)


def test_window_status_without_windows():
    status = windows.window_status([], utc(2025, 1, 6, 8))
    assert status == windows.WindowStatus(False, None, None)


# --- validation ------------------------------------------------------------


def test_window_error_is_a_value_error():
    assert issubclass(windows.WindowError, ValueError)


def test_empty_weekdays_rejected():
    with pytest.raises(windows.WindowError, match="at least one weekday"):
        window([], "08:00", "12:00")


@pytest.mark.parametrize("day", [7, -1, True, "1"])
def test_weekday_out_of_range_rejected(day):
    with pytest.raises(windows.WindowError, match="weekday"):
        window([day], "08:00", "12:00")


def test_end_equal_to_start_rejected():
    with pytest.raises(windows.WindowError, match="ends when it starts"):
        window([MON], "08:00", "08:00")


@pytest.mark.parametrize(
    "tz",
    ["Mars/Olympus", "", None, "../etc", "/etc/localtime", "localtime", " UTC"],
)
def test_unknown_timezone_rejected(tz):
    with pytest.raises(windows.WindowError, match="Unknown time zone"):
        windows.WeeklyWindow(frozenset([MON]), time(8), time(12), tz)


@pytest.mark.parametrize("start", ["08:00", 8.0, datetime(2025, 1, 6, 8)])
def test_non_time_rejected(start):
    with pytest.raises(windows.WindowError, match="must be a time"):
        windows.WeeklyWindow(frozenset([MON]), start, time(12), "Europe/Paris")


NAIVE = datetime(2025, 1, 6, 8)


@pytest.mark.parametrize(
    "call",
    [
        lambda: windows.current_interval([MORNING], NAIVE),
        lambda: windows.next_start([MORNING], NAIVE),
        lambda: windows.window_status([MORNING], NAIVE),
        lambda: windows.window_intervals(MORNING, NAIVE, utc(2025, 1, 7)),
        lambda: windows.period_at([], NAIVE),
        lambda: windows.effective_peak_mode("auto", None, [], NAIVE),
        lambda: windows.effective_peak_mode("off", NAIVE, [], utc(2025, 1, 6)),
        lambda: windows.PeakPeriod(NAIVE, utc(2025, 1, 7)),
    ],
    ids=[
        "current_interval",
        "next_start",
        "window_status",
        "window_intervals",
        "period_at",
        "peak_mode_at",
        "forced_off_until",
        "period_start",
    ],
)
def test_naive_datetime_rejected(call):
    with pytest.raises(windows.WindowError, match="timezone-aware"):
        call()


@pytest.mark.parametrize(
    ("end", "message"),
    [
        (utc(2025, 11, 27), "ends before it starts"),
        (utc(2025, 11, 28), "starts and ends at the same time .*: give it a length"),
    ],
)
def test_period_ending_before_or_when_it_starts_rejected(end, message):
    with pytest.raises(windows.WindowError, match=message):
        windows.PeakPeriod(utc(2025, 11, 28), end, "Black Friday")


@pytest.mark.parametrize("mode", ["maybe", "ON", "", None])
def test_bad_mode_rejected(mode):
    with pytest.raises(windows.WindowError, match="Unknown peak mode"):
        windows.effective_peak_mode(mode, None, [], utc(2025, 1, 6))


# --- time parsing ----------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(22.5, time(22, 30)), (8.25, time(8, 15)), (0, time(0)), (23.999, time(23, 59))],
)
def test_float_hours_to_time(hours, expected):
    assert windows.float_hours_to_time(hours) == expected


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (24.0, "runs from 00:00 to 23:59, got 24:00"),
        (25.5, "got 25:30"),
        (-1, "got -01:00"),
        (math.nan, "got nan"),
        (math.inf, "got inf"),
        ("8", "Hours must be a number"),
        (True, "Hours must be a number"),
    ],
)
def test_bad_float_hours_rejected_in_the_forms_notation(hours, message):
    with pytest.raises(windows.WindowError, match=message):
        windows.float_hours_to_time(hours)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("22:30", time(22, 30)), ("7:05", time(7, 5)), (" 00:00 ", time(0))],
)
def test_parse_hhmm(text, expected):
    assert windows.parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "1230", "12:3", "", None, "١٢:٣٠"])
def test_bad_hhmm_rejected(text):
    with pytest.raises(windows.WindowError):
        windows.parse_hhmm(text)


# --- peak periods and mode -------------------------------------------------

BLACK_FRIDAY = windows.PeakPeriod(utc(2025, 11, 24), utc(2025, 12, 1), "BF week")
CYBER = windows.PeakPeriod(utc(2025, 11, 28), utc(2025, 12, 3), "Cyber")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2025, 11, 24), BLACK_FRIDAY),  # start inclusive
        (utc(2025, 11, 27), BLACK_FRIDAY),
        (utc(2025, 11, 29), CYBER),  # both contain it: Cyber ends last
        (utc(2025, 12, 3), None),  # end exclusive
        (utc(2025, 11, 23, 23, 59), None),
    ],
)
def test_period_at(at, expected):
    assert windows.period_at([BLACK_FRIDAY, CYBER], at) == expected


IN_PEAK = utc(2025, 11, 26)
QUIET = utc(2025, 10, 1)


@pytest.mark.parametrize(
    ("mode", "forced_off_until", "at", "expected"),
    [
        ("on", None, QUIET, (True, "manual", None)),
        ("on", None, IN_PEAK, (True, "manual", None)),  # period only when it decides
        ("off", utc(2025, 11, 27), IN_PEAK, (False, "forced_off", None)),
        ("off", IN_PEAK, IN_PEAK, (True, "peak_period", BLACK_FRIDAY)),  # expired
        ("off", utc(2025, 9, 1), QUIET, (False, "off", None)),  # expired
        ("off", None, IN_PEAK, (True, "peak_period", BLACK_FRIDAY)),
        ("auto", None, IN_PEAK, (True, "peak_period", BLACK_FRIDAY)),
        ("auto", utc(2025, 12, 31), IN_PEAK, (True, "peak_period", BLACK_FRIDAY)),
        ("auto", None, QUIET, (False, "off", None)),
    ],
    ids=[
        "manual",
        "manual-in-period",
        "forced-off",
        "forced-off-expired-in-period",
        "forced-off-expired-quiet",
        "off-without-deadline",
        "auto-in-period",
        "auto-ignores-forced-off",
        "auto-quiet",
    ],
)
def test_effective_peak_mode(mode, forced_off_until, at, expected):
    state = windows.effective_peak_mode(mode, forced_off_until, [BLACK_FRIDAY], at)
    assert state == windows.PeakModeState(*expected)


# --- protected intervals (published for the governor) ---------------------


def test_protected_intervals_intersect_peak_mode_and_windows():
    from datetime import UTC as utc
    from datetime import datetime as dt
    from datetime import time as tm

    morning = windows.WeeklyWindow(
        weekdays=frozenset(range(7)), start=tm(6), end=tm(14), tz="UTC"
    )
    black_friday = windows.PeakPeriod(
        start=dt(2026, 11, 27, 10, tzinfo=utc), end=dt(2026, 11, 28, 8, tzinfo=utc)
    )
    since = dt(2026, 11, 27, 0, tzinfo=utc)
    until = dt(2026, 11, 29, 0, tzinfo=utc)
    got = windows.protected_intervals(
        [morning], "auto", None, [black_friday], since, until
    )
    assert got == [
        (dt(2026, 11, 27, 10, tzinfo=utc), dt(2026, 11, 27, 14, tzinfo=utc)),
        (dt(2026, 11, 28, 6, tzinfo=utc), dt(2026, 11, 28, 8, tzinfo=utc)),
    ]
    forced_off = windows.protected_intervals(
        [morning], "off", dt(2026, 11, 28, 7, tzinfo=utc), [black_friday], since, until
    )
    assert forced_off == [
        (dt(2026, 11, 28, 7, tzinfo=utc), dt(2026, 11, 28, 8, tzinfo=utc))
    ]
    manual = windows.protected_intervals([morning], "on", None, [], since, until)
    assert manual == [
        (dt(2026, 11, 27, 6, tzinfo=utc), dt(2026, 11, 27, 14, tzinfo=utc)),
        (dt(2026, 11, 28, 6, tzinfo=utc), dt(2026, 11, 28, 14, tzinfo=utc)),
    ]
    assert windows.protected_intervals([], "on", None, [], since, until) == []
