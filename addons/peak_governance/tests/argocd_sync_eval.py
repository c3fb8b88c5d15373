"""A small Argo CD for the tests of ``lib/syncwindows.py``: the cron subset
the exporter emits, and two evaluations of a sync window, a line-by-line port
of argo-cd v3.5.1 ``SyncWindow.active`` (types.go) and an exact interval
computation of where it denies.

Argo CD runs the cron and the duration on the naive local wall clock
``L(t) = t + offset(t)``: a window matched at *m* is active while
``m < L(t) < m + duration``.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_cron(schedule):
    fields = schedule.split()
    assert len(fields) == 5, schedule
    minute, hour, dom, month, dow = fields
    assert minute.isdigit() and hour.isdigit(), "we emit one start time per rule"

    def values(field):
        return None if field == "*" else {int(v) for v in field.split(",")}

    return int(minute), int(hour), values(dom), values(month), values(dow)


def day_matches(cron, day):
    # robfig/cron: with "*" in day-of-month or day-of-week, both must match.
    _m, _h, dom, month, dow = cron
    return (
        (dom is None or day.day in dom)
        and (month is None or day.month in month)
        and (dow is None or (day.weekday() + 1) % 7 in dow)
    )


def next_after(cron, naive):
    """robfig's Schedule.Next: the first match strictly after ``naive``."""
    day = naive.date()
    for _ in range(400):
        candidate = datetime.combine(day, time(cron[1], cron[0]))
        if candidate > naive and day_matches(cron, day):
            return candidate
        day += timedelta(days=1)
    return None


def go_minutes(duration):
    hours, _, rest = duration.partition("h") if "h" in duration else ("0", "", duration)
    return int(hours) * 60 + int(rest.rstrip("m") or 0)


def argo_active(window, at):
    """Line by line SyncWindow.active of argo-cd v3.5.1 (types.go)."""
    cron = parse_cron(window["schedule"])
    duration = timedelta(minutes=go_minutes(window["duration"]))
    local = at.astimezone(ZoneInfo(window["timeZone"])).replace(tzinfo=None)
    nxt = next_after(cron, local - duration)
    return nxt is not None and nxt < local


def segments(zone, since, until):
    """[(from, to, offset)] in UTC; offsets change on quarter hours."""
    since = since.replace(minute=0, second=0, microsecond=0)
    out, step, at = [], timedelta(minutes=15), since
    start, offset = since, since.astimezone(zone).utcoffset()
    while at < until:
        at += step
        current = at.astimezone(zone).utcoffset()
        if current != offset:
            out.append((start, at, offset))
            start, offset = at, current
    out.append((start, until, offset))
    return out


def coverage(windows, since, until):
    """Where the exported windows deny, as merged UTC intervals (exact)."""
    pad = timedelta(days=40)
    spans = []
    for window in windows:
        zone = ZoneInfo(window["timeZone"])
        cron = parse_cron(window["schedule"])
        duration = timedelta(minutes=go_minutes(window["duration"]))
        segs = segments(zone, since - pad, until + pad)
        day = (since - pad).date()
        while day <= (until + pad).date():
            if day_matches(cron, day):
                match = datetime.combine(day, time(cron[1], cron[0]), tzinfo=UTC)
                for seg_from, seg_to, offset in segs:
                    low = max(seg_from, match - offset)
                    high = min(seg_to, match + duration - offset)
                    if low < high:
                        spans.append((low, high))
            day += timedelta(days=1)
    return merge(spans)


def merge(spans):
    out = []
    for low, high in sorted(spans):
        if out and low <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def covered(spans, low, high):
    return any(a <= low and high <= b for a, b in spans)


def measure(spans, since, until):
    return sum(
        (min(b, until) - max(a, since) for a, b in spans if a < until and b > since),
        timedelta(),
    )
