"""Argo CD sync windows from the peak calendar, free of any ORM.

The calendar of ``peak_base`` (dated peak periods, weekly fulfillment windows)
becomes a list of ``deny`` sync windows for an Argo CD ``AppProject``: no
automated sync while a period or a window is open, manual (emergency) syncs
still allowed (``manualSync: true``).

How Argo CD reads a window (v3.5, ``SyncWindow.active``)
--------------------------------------------------------
Argo CD does not run the cron in ``timeZone`` with a real-time duration. It
takes the current instant *t*, adds the zone's offset *at t*, and evaluates
the cron and the duration on that naive wall-clock value ``L(t)``: the window
opened by a cron match *m* is active while ``m < L(t) < m + duration``. So the
duration is wall-clock time, and ``L`` jumps forward in a spring-forward gap
and runs back over the repeated hour in a fall-back overlap.

Mapped onto ``peak_base``'s DST rules (``WeeklyWindow`` docstring):

* A window spanning a fall-back night (Sat 22:00-04:00, 7 real hours) is
  covered by its weekly rule: ``L`` passes 02:00-03:00 twice, both times
  inside the window.
* A window *ending* in a spring-forward gap (01:00-02:30 ends at 03:30 local
  summer time for ``peak_base``) or *starting* in a fall-back overlap (02:30
  first occurrence; ``L`` later returns to 02:00) is not covered by its weekly
  rule. For each such occurrence a dated extra window (``M H dom month *``)
  spans the occurrence's whole ``L`` range.
* Unavoidable over-cover, at most the DST shift (one hour; 30 minutes for
  Lord Howe) per affected occurrence: a window starting in a spring-forward
  gap is denied from the gap; a window starting or ending in a fall-back
  overlap is denied during the overlap's other pass.

Dated periods are exported in UTC (no DST), from the minute they start, for
their whole length rounded up to the minute.

Cron has no year: a dated rule fires again a year later. The export therefore
covers [generated_at, valid_until) with ``valid_until`` at most 365 days
later, so each dated rule fires for its own occurrence first and again only
after the export has expired; re-export when the calendar changes and before
``valid_until``. Argo CD compares ``m < L(t)`` strictly: the single instant a
window opens is not denied, which no sync can hit in practice.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from odoo.addons.peak_base.lib.windows import PeakPeriod, WeeklyWindow, WindowError

__all__ = [
    "MAX_HORIZON",
    "SyncWindow",
    "app_project",
    "go_duration",
    "sync_windows",
]

MAX_HORIZON = timedelta(days=365)
_MINUTE = timedelta(minutes=1)
_DESCRIPTION_MAX = 255  # Argo CD refuses longer descriptions.
# Sorting: periods, then weekly rules, then their DST corrections.
_PERIOD, _WEEKLY, _DST = 0, 1, 2


@dataclass(frozen=True)
class SyncWindow:
    """One ``deny`` window: ``schedule`` in ``time_zone``, ``minutes`` long."""

    schedule: str
    minutes: int
    time_zone: str
    description: str
    order: tuple = ()

    def as_dict(self, selectors: dict) -> dict:
        window = {
            "kind": "deny",
            "schedule": self.schedule,
            "duration": go_duration(self.minutes),
            "timeZone": self.time_zone,
            "manualSync": True,
            "description": self.description[:_DESCRIPTION_MAX],
        }
        for key in ("applications", "namespaces", "clusters"):
            if selectors.get(key):
                window[key] = list(selectors[key])
        return window


def go_duration(minutes: int) -> str:
    """90 -> "1h30m", the form Go's time.ParseDuration reads."""
    hours, rest = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def _aware(value: datetime, label: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise WindowError(f"{label} must be a timezone-aware datetime.")
    return value.astimezone(UTC)


def _floor(naive: datetime) -> datetime:
    return naive.replace(second=0, microsecond=0)


def _ceil(naive: datetime) -> datetime:
    floor = _floor(naive)
    return floor if floor == naive else floor + _MINUTE


def _offset(zone: ZoneInfo, at: datetime):
    return at.astimezone(zone).utcoffset()


def _changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Instants in (start, end) where the zone's UTC offset changes.

    Hourly steps then bisection to the second: zones never change offset
    twice within an hour, and transitions fall on whole seconds.
    """
    found, step, low = [], timedelta(hours=1), start
    while low < end:
        high = min(low + step, end)
        if _offset(zone, low) != _offset(zone, high):
            a, b = low, high
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                if _offset(zone, mid) == _offset(zone, a):
                    a = mid
                else:
                    b = mid
            found.append(b.replace(microsecond=0))
        low = high
    return found


def wall_range(zone: ZoneInfo, start: datetime, end: datetime):
    """(min, sup) of the naive wall-clock time over the real [start, end)."""
    cuts = [start, *_changes(zone, start, end), end]
    low = high = None
    for a, b in pairwise(cuts):
        if a == b:  # a change at the very end: [start, end) never sees it
            continue
        wall = a.astimezone(zone).replace(tzinfo=None)
        low = wall if low is None else min(low, wall)
        high = wall + (b - a) if high is None else max(high, wall + (b - a))
    return low, high


def _dated(naive: datetime) -> str:
    return f"{naive.minute} {naive.hour} {naive.day} {naive.month} *"


def _weekly(window: WeeklyWindow, since, until) -> list[SyncWindow]:
    """The weekly rule, plus a dated rule for each occurrence it misses."""
    start, end = window.start, window.end
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    minutes %= 24 * 60
    days = ",".join(str((day + 1) % 7) for day in sorted(window.weekdays))
    label = window.name or "Fulfillment window"
    span = f"{start:%H:%M}-{end:%H:%M} {window.tz}"
    rules = [
        SyncWindow(
            f"{start.minute} {start.hour} * * {days}",
            minutes,
            window.tz,
            f"Fulfillment window {label}: {span}",
            (_WEEKLY, window.tz, start.hour, start.minute, days, minutes),
        )
    ]
    zone = window.zone
    day = since.astimezone(zone).date() - timedelta(days=2)
    while day <= until.astimezone(zone).date():
        occurrence = window.occurrence_on(day)
        opens = datetime.combine(day, start)  # the weekly rule's cron match
        day += timedelta(days=1)
        if occurrence is None or not (occurrence[0] < until and occurrence[1] > since):
            continue
        low, high = wall_range(zone, *occurrence)
        if opens <= low and high <= opens + timedelta(minutes=minutes):
            continue
        first, last = _floor(low), _ceil(high)
        rules.append(
            SyncWindow(
                _dated(first),
                int((last - first) / _MINUTE),
                window.tz,
                f"Fulfillment window {label}: {span} on {opens:%Y-%m-%d} "
                "(daylight saving time change)",
                (_DST, window.tz, first.isoformat(), last.isoformat()),
            )
        )
    return rules


def _period(period: PeakPeriod) -> SyncWindow:
    first = _floor(period.start.astimezone(UTC).replace(tzinfo=None))
    last = _ceil(period.end.astimezone(UTC).replace(tzinfo=None))
    label = period.name or "Peak period"
    return SyncWindow(
        _dated(first),
        int((last - first) / _MINUTE),
        "UTC",
        f"Peak period {label}: {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC",
        (_PERIOD, first.isoformat(), last.isoformat(), label),
    )


def sync_windows(
    windows: Iterable[WeeklyWindow],
    periods: Iterable[PeakPeriod],
    generated_at: datetime,
    valid_until: datetime | None = None,
) -> list[SyncWindow]:
    """Deny windows covering every period and window occurrence that overlaps
    [generated_at, valid_until), merged and sorted for stable diffs."""
    since = _aware(generated_at, "generated_at")
    until = (
        since + MAX_HORIZON
        if valid_until is None
        else _aware(valid_until, "valid_until")
    )
    if not since < until <= since + MAX_HORIZON:
        raise WindowError(
            "The export must be valid for 1 to 365 days: cron schedules have no "
            "year, so a dated window would come back a year later."
        )
    rules = [_period(p) for p in periods if p.end > since and p.start < until]
    for window in windows:
        rules.extend(_weekly(window, since, until))
    merged: dict[tuple, SyncWindow] = {}
    for rule in rules:
        key = (rule.schedule, rule.minutes, rule.time_zone)
        if key in merged:
            kept = merged[key]
            if rule.description not in kept.description:
                text = f"{kept.description}; {rule.description}"
                kept = SyncWindow(*key, text, min(kept.order, rule.order))
            merged[key] = kept
        else:
            merged[key] = rule
    return sorted(merged.values(), key=lambda rule: (rule.order, rule.schedule))


def app_project(
    rules: Iterable[SyncWindow],
    generated_at: datetime,
    valid_until: datetime,
    project: str = "odoo-peak",
    namespace: str = "argocd",
    selectors: dict | None = None,
) -> dict:
    """The AppProject carrying only ``spec.syncWindows``: a strategic-merge
    patch for k8s/argocd, and a valid AppProject document on its own."""
    if selectors is None:
        selectors = {"applications": ["*"]}
    if not any(selectors.get(k) for k in ("applications", "namespaces", "clusters")):
        raise WindowError(
            "Sync windows must name applications, namespaces or clusters "
            "(use * for all the project's applications)."
        )
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
            "name": project,
            "namespace": namespace,
            "annotations": {
                "peak.odoo-peak.io/sync-windows-generated-on": (
                    f"{_aware(generated_at, 'generated_at'):%Y-%m-%d}"
                ),
                "peak.odoo-peak.io/sync-windows-valid-until": (
                    _aware(valid_until, "valid_until").isoformat()
                ),
            },
        },
        "spec": {"syncWindows": [rule.as_dict(selectors) for rule in rules]},
    }
