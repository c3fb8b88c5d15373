"""Fulfillment windows and peak-mode resolution for Peak mode, free of any ORM.

This module is pure stdlib so that the scheduling rules, which are where the
subtle bugs live, can be unit-tested without an Odoo registry or a database.

Model
-----
A :class:`WeeklyWindow` is a recurring slot expressed the way people think of
it: "Mondays 22:00 to 02:00, Paris time".  Its occurrences are therefore built
in *local wall-clock time* for each calendar day, and only then converted to
UTC.  Building them in UTC (or adding ``timedelta(hours=...)`` to a start)
would silently shift every window by an hour for half of the year.

Every datetime returned by this module is timezone-aware and in UTC.  Every
datetime accepted must be timezone-aware; a naive value is rejected with
:class:`WindowError` because guessing its zone is exactly the bug this module
exists to prevent.

Daylight-saving time
--------------------
Local times are resolved with ``fold=0`` (PEP 495), which gives:

* **Non-existent local time** (spring-forward gap): the time is read with the
  offset in force *before* the gap, so it lands *after* the gap.  Europe/Paris
  2025-03-30 02:30 becomes 01:30 UTC, i.e. 03:30 local summer time.  A window
  01:00-04:00 on that day lasts 2 real hours.
* **Ambiguous local time** (fall-back overlap): the *first* occurrence is
  used, for a window start and for a window end alike.  A window 01:00-04:00
  on Europe/Paris 2025-10-26 lasts 4 real hours.
* An occurrence that becomes empty or negative through the gap (e.g. 02:30 to
  03:10 on the spring-forward day: 02:30 lands at 03:30) is dropped; there is
  no real instant at which it is open.

A ``fold=1`` on a ``time`` passed in is ignored so the rule above always holds.

Merging
-------
Fulfillment is open whenever *any* window is open, so occurrences that
overlap or merely touch (Mon 08-12 and Mon 12-16) are merged, across windows
and time zones, before answering "when does it stop?".  Occurrences are looked
up :data:`SEARCH_SPAN` either side of the instant asked about; a configuration
that is open without any gap for longer than that (a 24/7 setup) is reported
with an end clipped to that search span.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MODES",
    "REASONS",
    "SEARCH_SPAN",
    "PeakModeState",
    "PeakPeriod",
    "WeeklyWindow",
    "WindowError",
    "WindowStatus",
    "current_interval",
    "effective_peak_mode",
    "float_hours_to_time",
    "next_start",
    "parse_hhmm",
    "peak_mode_intervals",
    "period_at",
    "protected_intervals",
    "window_intervals",
    "window_status",
]

#: How far before/after an instant occurrences are gathered for merging.  A
#: week plus a day covers any weekly pattern including a window spanning
#: midnight on the day before.
SEARCH_SPAN = timedelta(days=8)

#: Peak mode selection values, in the order shown to users.
MODES = ("auto", "on", "off")

#: Why peak mode is on or off, as reported by :func:`effective_peak_mode`.
REASONS = ("manual", "forced_off", "peak_period", "off")

Interval = tuple[datetime, datetime]

# Names ZoneInfo may resolve on some machines that are not IANA zones: their
# meaning depends on the host, which is precisely what a stored setting must
# not do.
_PSEUDO_ZONES = frozenset({"localtime", "posixrules"})
_HHMM = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)
_MINUTES_PER_DAY = 24 * 60


class WindowError(ValueError):
    """Invalid window, period, mode or instant; the message is user-facing."""


def _zone(name: object) -> ZoneInfo:
    """Return the zone for an IANA name, refusing anything that is not one.

    ZoneInfo raises several unrelated exception types for bad keys (path
    tricks raise ValueError, non-TZif files raise ValueError, unknown names
    raise ZoneInfoNotFoundError); callers only need one.
    """
    if not isinstance(name, str) or not name or name != name.strip():
        raise WindowError(f"Unknown time zone {name!r}.")
    if name in _PSEUDO_ZONES:
        raise WindowError(f"Unknown time zone {name!r}.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise WindowError(f"Unknown time zone {name!r}.") from None


def _require_aware(value: object, label: str) -> datetime:
    """Reject naive or non-datetime values instead of guessing their zone."""
    if not isinstance(value, datetime):
        raise WindowError(f"{label} must be a datetime, got {value!r}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise WindowError(f"{label} must be timezone-aware, got naive {value!r}.")
    return value


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring fulfillment window in local wall-clock time.

    ``weekdays`` are the days the window *starts* on (0=Monday..6=Sunday).
    When ``end < start`` the window runs past midnight into the next day.
    """

    weekdays: frozenset[int]
    start: time
    end: time
    tz: str
    name: str = ""

    def __post_init__(self) -> None:
        label = f"Window {self.name!r}" if self.name else "Window"
        try:
            days = frozenset(self.weekdays)
        except TypeError:
            raise WindowError(
                f"{label}: weekdays must be a set of integers 0-6."
            ) from None
        if not days:
            raise WindowError(f"{label} must run on at least one weekday.")
        for day in days:
            # bool is an int subclass; True is not a weekday anyone means.
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise WindowError(
                    f"{label}: weekday {day!r} is not in 0 (Monday) to 6 (Sunday)."
                )
        object.__setattr__(self, "weekdays", days)
        for attr in ("start", "end"):
            value = getattr(self, attr)
            if not isinstance(value, time):
                raise WindowError(f"{label}: {attr} must be a time, got {value!r}.")
            if value.tzinfo is not None:
                raise WindowError(
                    f"{label}: {attr} must be a local wall-clock time without "
                    "a time zone; set the zone with tz."
                )
        if self.end == self.start:
            raise WindowError(
                f"{label} ends when it starts ({self.start:%H:%M}); "
                "a window cannot last zero or 24 hours."
            )
        _zone(self.tz)

    @property
    def zone(self) -> ZoneInfo:
        """The window's time zone (ZoneInfo caches instances per key)."""
        return _zone(self.tz)

    @property
    def spans_midnight(self) -> bool:
        """True when the window ends on the day after it starts."""
        return self.end < self.start

    def occurrence_on(self, day: date) -> Interval | None:
        """The UTC occurrence starting on local ``day``, if the window runs then.

        Returns None when ``day`` is not one of the window's weekdays, or when
        a spring-forward gap swallows the whole occurrence.
        """
        if day.weekday() not in self.weekdays:
            return None
        zone = self.zone
        end_day = day + timedelta(days=1) if self.spans_midnight else day
        start = datetime.combine(day, self.start.replace(fold=0), tzinfo=zone)
        end = datetime.combine(end_day, self.end.replace(fold=0), tzinfo=zone)
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        if end_utc <= start_utc:
            return None
        return start_utc, end_utc


@dataclass(frozen=True)
class PeakPeriod:
    """A dated peak period such as "Black Friday week", [start, end)."""

    start: datetime
    end: datetime
    name: str = ""

    def __post_init__(self) -> None:
        label = f"Peak period {self.name!r}" if self.name else "Peak period"
        _require_aware(self.start, f"{label} start")
        _require_aware(self.end, f"{label} end")
        if self.end == self.start:
            raise WindowError(
                f"{label} starts and ends at the same time "
                f"({self.start.isoformat()}): give it a length."
            )
        if self.end < self.start:
            raise WindowError(
                f"{label} ends before it starts "
                f"({self.end.isoformat()} is before {self.start.isoformat()})."
            )

    def contains(self, at: datetime) -> bool:
        """Start inclusive, end exclusive, so back-to-back periods never overlap."""
        return self.start <= _require_aware(at, "at") < self.end


@dataclass(frozen=True)
class WindowStatus:
    """Snapshot of the fulfillment windows at one instant, for UI and crons."""

    active: bool
    current_end: datetime | None
    next_start: datetime | None


@dataclass(frozen=True)
class PeakModeState:
    """Whether peak mode is on, and why (``reason`` is one of :data:`REASONS`).

    ``period`` is the period that switched peak mode on; it is only set when
    ``reason == "peak_period"``.
    """

    on: bool
    reason: str
    period: PeakPeriod | None = None


def window_intervals(
    window: WeeklyWindow, since: datetime, until: datetime
) -> list[Interval]:
    """Occurrences of ``window`` overlapping [since, until), as UTC intervals.

    Intervals are whole occurrences, not clipped to the range, so a caller can
    tell when an occurrence that began earlier really started.  Local days
    from two days before ``since`` are scanned because a window spanning
    midnight (or a DST shift) can reach into the range from the previous day.
    """
    since = _require_aware(since, "since")
    until = _require_aware(until, "until")
    if until <= since:
        return []
    zone = window.zone
    day = since.astimezone(zone).date() - timedelta(days=2)
    last = until.astimezone(zone).date() + timedelta(days=1)
    found: list[Interval] = []
    while day <= last:
        occurrence = window.occurrence_on(day)
        if occurrence is not None and occurrence[0] < until and occurrence[1] > since:
            found.append(occurrence)
        day += timedelta(days=1)
    return found


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping *and touching* intervals: 08-12 + 12-16 is 08-16."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _merged_occurrences(
    windows: Iterable[WeeklyWindow], since: datetime, until: datetime
) -> list[Interval]:
    """All windows' occurrences around [since, until), merged, in UTC."""
    intervals: list[Interval] = []
    for window in windows:
        intervals.extend(window_intervals(window, since, until))
    return _merge(intervals)


def current_interval(windows: Iterable[WeeklyWindow], at: datetime) -> Interval | None:
    """The merged UTC interval containing ``at`` (start inclusive, end exclusive).

    Merging makes ``end`` the moment fulfillment really stops, even when the
    window that is open now hands over to another one without a gap.
    """
    at = _require_aware(at, "at")
    for start, end in _merged_occurrences(windows, at - SEARCH_SPAN, at + SEARCH_SPAN):
        if start <= at < end:
            return start, end
    return None


def next_start(
    windows: Iterable[WeeklyWindow],
    at: datetime,
    horizon: timedelta = timedelta(days=8),
) -> datetime | None:
    """When fulfillment next opens strictly after ``at``, in UTC.

    An occurrence that merely continues the interval open at ``at`` is not a
    new start.  Returns None when there is no window, or no opening within
    ``horizon`` of ``at``.
    """
    at = _require_aware(at, "at")
    if not isinstance(horizon, timedelta) or horizon <= timedelta(0):
        raise WindowError(f"horizon must be a positive timedelta, got {horizon!r}.")
    until = at + horizon
    for start, _end in _merged_occurrences(windows, at - SEARCH_SPAN, until):
        if at < start <= until:
            return start
    return None


def window_status(windows: Iterable[WeeklyWindow], at: datetime) -> WindowStatus:
    """Whether a window is open at ``at``, until when, and when the next opens."""
    windows = tuple(windows)
    interval = current_interval(windows, at)
    return WindowStatus(
        active=interval is not None,
        current_end=interval[1] if interval else None,
        next_start=next_start(windows, at),
    )


def period_at(periods: Iterable[PeakPeriod], at: datetime) -> PeakPeriod | None:
    """The period containing ``at``; when several do, the one that ends last.

    The last-ending one is what tells the user how long peak mode will stay on.
    """
    at = _require_aware(at, "at")
    containing = [period for period in periods if period.contains(at)]
    return max(containing, key=lambda period: period.end, default=None)


def effective_peak_mode(
    mode: str,
    forced_off_until: datetime | None,
    periods: Iterable[PeakPeriod],
    at: datetime,
) -> PeakModeState:
    """Resolve the configured mode into whether peak mode is on at ``at``.

    ``"off"`` is a temporary override: once ``forced_off_until`` has passed (or
    when it is unset) the company falls back to ``"auto"``, so nobody can
    forget to switch peak mode back on before the next peak period.
    """
    if mode not in MODES:
        raise WindowError(
            f"Unknown peak mode {mode!r}; expected one of {', '.join(MODES)}."
        )
    at = _require_aware(at, "at")
    if forced_off_until is not None:
        _require_aware(forced_off_until, "forced_off_until")
    if mode == "on":
        return PeakModeState(on=True, reason="manual")
    if mode == "off" and forced_off_until is not None and at < forced_off_until:
        return PeakModeState(on=False, reason="forced_off")
    period = period_at(periods, at)
    if period is not None:
        return PeakModeState(on=True, reason="peak_period", period=period)
    return PeakModeState(on=False, reason="off")


def _intersect(left: list[Interval], right: list[Interval]) -> list[Interval]:
    """Intersection of two sorted lists of disjoint intervals."""
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def peak_mode_intervals(
    mode: str,
    forced_off_until: datetime | None,
    periods: Iterable[PeakPeriod],
    since: datetime,
    until: datetime,
) -> list[Interval]:
    """When Peak mode is on within [since, until), by :func:`effective_peak_mode`'s
    rules, as merged UTC intervals clipped to the range."""
    effective_peak_mode(mode, forced_off_until, (), since)  # validates the inputs
    since = _require_aware(since, "since")
    until = _require_aware(until, "until")
    if until <= since:
        return []
    if mode == "on":
        return [(since, until)]
    blocked_until = since
    if mode == "off" and forced_off_until is not None:
        blocked_until = max(since, forced_off_until)
    on = [
        (max(period.start, blocked_until), min(period.end, until))
        for period in periods
        if max(period.start, blocked_until) < min(period.end, until)
    ]
    return _merge(on)


def protected_intervals(
    windows: Iterable[WeeklyWindow],
    mode: str,
    forced_off_until: datetime | None,
    periods: Iterable[PeakPeriod],
    since: datetime,
    until: datetime,
) -> list[Interval]:
    """When fulfillment is protected (Peak mode on *and* a window open) within
    [since, until): what peak_base publishes for the governor."""
    peak = peak_mode_intervals(mode, forced_off_until, periods, since, until)
    open_windows = [
        (max(start, since), min(end, until))
        for start, end in _merged_occurrences(windows, since, until)
    ]
    return _intersect(peak, [(s, e) for s, e in open_windows if s < e])


def parse_hhmm(value: str) -> time:
    """Parse "HH:MM" (24-hour clock) as typed in settings or imported CSVs."""
    if not isinstance(value, str):
        raise WindowError(f"Expected a time as HH:MM, got {value!r}.")
    match = _HHMM.fullmatch(value.strip())
    if match is None:
        raise WindowError(f"Expected a time as HH:MM, got {value!r}.")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        raise WindowError(f"{value!r} is not a time of day (00:00 to 23:59).")
    return time(hours, minutes)


def _as_clock(hours: float) -> str:
    """25.5 as "25:30", the way the form shows hours."""
    sign = "-" if hours < 0 else ""
    minutes = round(abs(hours) * 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def float_hours_to_time(hours: float) -> time:
    """Convert an Odoo ``float_time`` value (22.5 means 22:30) to a ``time``.

    Rounds to the nearest minute but never up to 24:00: float noise such as
    23.999 means "end of day", i.e. 23:59.
    """
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise WindowError(f"Hours must be a number, got {hours!r}.")
    if not math.isfinite(hours) or not 0 <= hours < 24:
        shown = _as_clock(hours) if math.isfinite(hours) else repr(hours)
        raise WindowError(f"A time of day runs from 00:00 to 23:59, got {shown}.")
    minutes = min(math.floor(hours * 60 + 0.5), _MINUTES_PER_DAY - 1)
    return time(minutes // 60, minutes % 60)
