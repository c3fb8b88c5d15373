"""Plain pytest tests for ``peak_governance/lib/syncwindows.py`` (no database).

The exported windows are evaluated the way Argo CD v3.5 does
(``SyncWindow.active``: the cron and the duration run on the naive local
wall clock ``L(t) = t + offset(t)``, active while ``m < L(t) < m + duration``)
and compared with what ``peak_base`` says over a whole year: every occurrence
must be covered, and the over-cover is measured.
"""

import importlib.util
import pathlib
from datetime import UTC, datetime, time, timedelta

import pytest

from odoo.addons.peak_base.lib.windows import (
    PeakPeriod,
    WeeklyWindow,
    WindowError,
    window_intervals,
)


def _load(name, path):
    """By path: ``odoo.addons.peak_governance`` needs Odoo."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HERE = pathlib.Path(__file__).resolve().parent
sw = _load("peak_syncwindows", HERE.parent / "lib" / "syncwindows.py")
argo = _load("peak_argocd_sync_eval", HERE / "argocd_sync_eval.py")
argo_active, coverage, covered = argo.argo_active, argo.coverage, argo.covered
go_minutes, measure, merge, segments = (
    argo.go_minutes,
    argo.measure,
    argo.merge,
    argo.segments,
)
EVERY_DAY = frozenset(range(7))
MINUTE = timedelta(minutes=1)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


SINCE = utc(2026, 1, 10)


def export(windows=(), periods=(), since=SINCE, days=365):
    rules = sw.sync_windows(windows, periods, since, since + timedelta(days=days))
    return [rule.as_dict({"applications": ["*"]}) for rule in rules]


# --- DST: a year of occurrences, several zones ------------------------------

ZONES = {
    # zone: local hours around its transitions
    "Europe/Paris": (1, 2, 3),
    "America/New_York": (1, 2, 3),
    "America/Santiago": (23, 0, 1),  # changes at midnight
    "Australia/Lord_Howe": (1, 2),  # 30-minute shift
    "Asia/Kolkata": (2,),  # no DST
    "UTC": (2,),
}
SHAPES = [  # (start, end) local; end < start spans midnight
    ("{h}:00", "{h2}:00"),
    ("{h}:30", "{h2}:30"),
    ("{h}:30", "{h}:45"),  # inside the gap/overlap hour only
    ("{h}:15", "{h3}:10"),
    ("22:00", "{h}:30"),  # spans midnight, ends in the gap/overlap
    ("{h}:30", "21:00"),
]


def family():
    out = []
    for zone, hours in ZONES.items():
        for hour in hours:
            for start, end in SHAPES:
                h2, h3 = (hour + 1) % 24, (hour + 2) % 24
                start_t = time(*map(int, start.format(h=hour).split(":")))
                end_t = time(*map(int, end.format(h=hour, h2=h2, h3=h3).split(":")))
                if start_t != end_t:
                    out.append(WeeklyWindow(EVERY_DAY, start_t, end_t, zone, "f"))
    return out


@pytest.mark.parametrize("since", [utc(2026, 1, 10), utc(2026, 7, 1, 13, 7)])
def test_every_occurrence_of_a_year_is_denied(since):
    until = since + timedelta(days=365)
    for window in family():
        exported = export([window], since=since)
        spans = coverage(exported, since, until)
        needed = window_intervals(window, since, until)
        assert len(needed) >= 350
        missed = [occ for occ in needed if not covered(spans, *occ)]
        assert missed == [], (window, missed[:3], exported)
        # Over-cover: measured at most 1 h a year (Paris 02:30-03:30 daily).
        extra = measure(spans, since, until) - measure(merge(needed), since, until)
        assert extra <= timedelta(hours=1), (window, extra, exported)


def test_the_brief_example_mon_22_to_02_paris():
    window = WeeklyWindow(frozenset({0}), time(22), time(2), "Europe/Paris", "Night")
    exported = export([window])
    # Monday nights never meet a transition (Sunday 01:00 UTC): one rule.
    assert exported == [
        {
            "kind": "deny",
            "schedule": "0 22 * * 1",
            "duration": "4h",
            "timeZone": "Europe/Paris",
            "manualSync": True,
            "description": "Fulfillment window Night: 22:00-02:00 Europe/Paris",
            "applications": ["*"],
        }
    ]


def test_a_night_spanning_the_fall_back_lasts_seven_hours_and_is_covered():
    window = WeeklyWindow(frozenset({5}), time(22), time(4), "Europe/Paris", "Sat")
    exported = export([window])
    assert [w["schedule"] for w in exported] == ["0 22 * * 6"]
    (night,) = window_intervals(window, utc(2026, 10, 24, 21), utc(2026, 10, 24, 22))
    assert night == (utc(2026, 10, 24, 20), utc(2026, 10, 25, 3))  # 7 real hours
    for probe in (night[0] + MINUTE, utc(2026, 10, 25, 0, 59), utc(2026, 10, 25, 1, 1)):
        assert argo_active(exported[0], probe)
    assert argo_active(exported[0], night[1] - MINUTE)
    assert not argo_active(exported[0], night[1] + MINUTE)


def test_a_window_ending_when_the_gap_starts_needs_no_dated_rule():
    # Sat 22:00 to Sun 02:00 Paris: 2027-03-28 02:00 is the first instant of
    # summer time; the occurrence ends right then (4 real hours).
    window = WeeklyWindow(frozenset({5}), time(22), time(2), "Europe/Paris", "P")
    exported = export([window], since=utc(2026, 12, 6, 12))
    assert [w["schedule"] for w in exported] == ["0 22 * * 6"]


def test_a_window_ending_in_the_gap_gets_a_dated_rule():
    window = WeeklyWindow(frozenset({6}), time(1), time(2, 30), "Europe/Paris", "G")
    exported = export([window])
    assert [(w["schedule"], w["duration"]) for w in exported] == [
        ("0 1 * * 0", "1h30m"),
        ("0 1 29 3 *", "2h30m"),  # 01:00 CET to 03:30 CEST, 2026-03-29
    ]
    assert "2026-03-29 (daylight saving time change)" in exported[1]["description"]
    weekly_only = coverage(exported[:1], utc(2026, 3, 28), utc(2026, 3, 30))
    gap_day = (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1, 30))
    assert not covered(weekly_only, *gap_day), "the weekly rule alone under-covers"
    assert covered(coverage(exported, utc(2026, 3, 28), utc(2026, 3, 30)), *gap_day)
    assert argo_active(exported[1], utc(2026, 3, 29, 1, 29))
    assert not argo_active(exported[0], utc(2026, 3, 29, 1, 29))


def test_a_window_starting_in_the_fall_back_overlap_gets_a_dated_rule():
    window = WeeklyWindow(frozenset({6}), time(2, 30), time(5), "Europe/Paris", "O")
    exported = export([window])
    # 02:30 is its first pass (00:30 UTC); the clock comes back to 02:00.
    assert ("0 2 25 10 *", "3h") in [(w["schedule"], w["duration"]) for w in exported]
    assert argo_active(exported[-1], utc(2026, 10, 25, 1, 15))


def test_periods_are_exported_in_utc_from_now_on():
    periods = [
        PeakPeriod(utc(2026, 11, 27, 5), utc(2026, 12, 1, 23, 0, 30), "Black Friday"),
        PeakPeriod(utc(2025, 11, 28), utc(2025, 12, 2), "Last year"),
        PeakPeriod(utc(2027, 11, 26), utc(2027, 11, 30), "Too far"),
    ]
    since = utc(2026, 11, 1)
    exported = export(periods=periods, since=since)
    assert [(w["schedule"], w["duration"], w["timeZone"]) for w in exported] == [
        ("0 5 27 11 *", "114h1m", "UTC")
    ]
    assert (
        "Black Friday: 2026-11-27 05:00 to 2026-12-01 23:01 UTC"
        in (exported[0]["description"])
    )
    spans = coverage(exported, since, since + timedelta(days=365))
    assert covered(spans, periods[0].start, periods[0].end)


def test_a_current_period_spanning_new_year_stays_denied():
    period = PeakPeriod(utc(2026, 12, 20), utc(2027, 1, 10), "Winter")
    exported = export(periods=[period], since=utc(2027, 1, 5))
    assert argo_active(exported[0], utc(2027, 1, 9, 23))
    assert not argo_active(exported[0], utc(2027, 1, 10, 0, 1))


def test_output_is_merged_and_sorted_for_clean_diffs():
    paris = [
        WeeklyWindow(frozenset({0, 1}), time(6), time(22), "Europe/Paris", "B"),
        WeeklyWindow(frozenset({1, 0}), time(6), time(22), "Europe/Paris", "A"),
        WeeklyWindow(frozenset({4}), time(6), time(22), "Europe/Paris", "A"),
    ]
    period = PeakPeriod(utc(2026, 11, 27), utc(2026, 12, 1), "BF")
    one = export(paris, [period])
    two = export(list(reversed(paris)), [period])
    assert [w["schedule"] for w in one] == [w["schedule"] for w in two]
    assert [w["schedule"] for w in one] == ["0 0 27 11 *", "0 6 * * 1,2", "0 6 * * 5"]
    assert one[1]["description"].count("Fulfillment window") == 2


def test_bad_input():
    with pytest.raises(WindowError, match="1 to 365 days"):
        export(days=366)
    with pytest.raises(WindowError, match="timezone-aware"):
        sw.sync_windows([], [], datetime(2026, 1, 1))
    with pytest.raises(WindowError, match="applications, namespaces or clusters"):
        sw.app_project([], utc(2026, 1, 1), utc(2026, 2, 1), selectors={})


def test_go_durations():
    assert [sw.go_duration(m) for m in (0, 30, 60, 90, 6841)] == [
        "0m",
        "30m",
        "1h",
        "1h30m",
        "114h1m",
    ]
    assert all(go_minutes(sw.go_duration(m)) == m for m in range(0, 3000, 7))


def test_the_evaluator_agrees_with_argo_cd_around_each_transition():
    """The exact evaluator used above against the line-by-line port, every
    minute (at :30 s) from 4 h before to 4 h after each 2026 transition."""
    year = (utc(2026, 1, 10), utc(2027, 1, 10))
    for window in family()[::2]:
        exported = export([window])
        spans = coverage(exported, *year)
        for change, _end, _offset in segments(window.zone, *year)[1:]:
            at = change - timedelta(hours=4, seconds=30)
            for _ in range(8 * 60):
                inside = any(a < at < b for a, b in spans)
                assert inside == any(argo_active(w, at) for w in exported), (window, at)
                at += MINUTE


def test_app_project_document():
    rules = sw.sync_windows([], [], utc(2026, 12, 6, 10), utc(2027, 12, 6))
    doc = sw.app_project(rules, utc(2026, 12, 6, 10), utc(2027, 12, 6), "p", "argocd")
    assert doc["metadata"]["annotations"] == {
        "peak.odoo-peak.io/sync-windows-generated-on": "2026-12-06",
        "peak.odoo-peak.io/sync-windows-valid-until": "2027-12-06T00:00:00+00:00",
    }
    assert doc["spec"] == {"syncWindows": []}
