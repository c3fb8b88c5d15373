"""Plain pytest tests for ``peak_governance/lib/grants.py`` (no Odoo needed).

Reference: a seasonal grant runs 2026-11-20 08:00 to 2026-12-24 18:00 UTC.
"""

import importlib.util
import pathlib
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest


def _load_grants() -> ModuleType:
    """By path: ``odoo.addons.peak_governance`` needs Odoo."""
    path = pathlib.Path(__file__).resolve().parent.parent / "lib" / "grants.py"
    spec = importlib.util.spec_from_file_location("peak_grants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


grants = _load_grants()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


START, END = utc(2026, 11, 20, 8), utc(2026, 12, 24, 18)
NOW = utc(2026, 11, 19, 12)


def grant(id_=1, state="active", start=START, end=END, wants=(), added=(), user=7):
    return grants.Grant(
        id_, user, state, start, end, frozenset(wants), frozenset(added)
    )


def error(**overrides):
    values = dict(
        start=START,
        end=END,
        now=NOW,
        reason="Seasonal pickers",
        group_ids=[10],
        requester_id=2,
        approver_id=3,
        user_id=7,
    )
    values.update(overrides)
    return grants.request_error(**values)


def test_a_good_request_passes():
    assert error() is None
    # A start in the past is fine: approving it activates it at once.
    assert error(start=NOW - timedelta(days=3)) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"user_id": None}, "Name the user"),
        ({"approver_id": None}, "Name an approver"),
        ({"approver_id": 2}, "cannot approve your own access grant"),
        ({"approver_id": 7}, "cannot approve access for themselves"),
        ({"group_ids": []}, "Name the groups"),
        ({"reason": "  "}, "Say why"),
        ({"end": START}, "not after its start"),
        ({"end": START - timedelta(hours=1)}, "not after its start"),
        (
            {"start": NOW - timedelta(days=2), "end": NOW - timedelta(days=1)},
            "not in the future",
        ),
        ({"end": NOW, "start": NOW - timedelta(days=1)}, "not in the future"),
    ],
)
def test_bad_requests_give_one_message(overrides, message):
    assert message in error(**overrides)


def test_past_end_is_accepted_when_not_asked_for_the_future():
    assert error(start=NOW - timedelta(days=2), end=NOW, future_end=False) is None


def test_messages_name_the_times_in_utc():
    assert "2026-11-20 08:00 UTC" in error(end=START)


def test_naive_datetimes_are_refused():
    with pytest.raises(grants.GrantError, match="timezone-aware"):
        error(now=datetime(2026, 11, 19, 12))
    with pytest.raises(grants.GrantError):
        grants.due_to_start([], datetime(2026, 11, 19))


def test_a_grant_adds_only_the_groups_the_user_lacks():
    assert grants.groups_to_add([10, 11, 12], [11, 50]) == {10, 12}
    assert grants.groups_to_add([11], [11]) == frozenset()


def test_ending_removes_what_it_added_and_hands_over_what_others_want():
    ending = grant(1, added={10, 11, 12})
    other = grant(2, wants={11, 99}, added=set())
    pending = grant(3, state="approved", wants={12})
    stranger = grant(4, wants={10}, user=8)
    result = grants.groups_to_remove(ending, [ending, other, pending, stranger])
    assert result.remove == {10, 12}
    assert result.keep == {2: {11}}


def test_ending_a_grant_that_added_nothing_removes_nothing():
    assert grants.groups_to_remove(grant(added=()), []).remove == frozenset()


def test_due_to_start_and_end():
    approved = grant(1, state="approved")
    active = grant(2)
    too_late = grant(3, state="approved", end=START + timedelta(hours=1))
    requested = grant(4, state="requested")
    done = grant(5, state="ended")
    all_ = [approved, active, too_late, requested, done]
    assert grants.due_to_start(all_, START - timedelta(seconds=1)) == []
    assert grants.due_to_start(all_, START) == [1, 3]
    # Run late, after the short one's end: it never starts, it ends.
    late = START + timedelta(hours=2)
    assert grants.due_to_start(all_, late) == [1]
    assert grants.due_to_end(all_, late) == [3]
    assert grants.due_to_end(all_, END) == [1, 2, 3]
    assert grants.due_to_end(all_, END - timedelta(seconds=1)) == [3]


def test_expiring_soon_is_active_and_within_24_hours():
    soon = END - timedelta(hours=23)
    g = [grant(1), grant(2, state="approved"), grant(3, end=END + timedelta(days=2))]
    assert grants.expiring_soon(g, soon) == [1]
    assert grants.expiring_soon(g, END - timedelta(hours=25)) == []
    assert grants.expiring_soon(g, END) == [], "ended at its end"


def test_digest_sections():
    now = utc(2026, 12, 20)
    g = [
        grant(1),  # active, ends within 7 days
        grant(2, end=utc(2027, 1, 31)),  # active, later
        grant(3, state="requested", end=utc(2027, 1, 5)),
        grants.Grant(4, 7, "ended", START, END, ended_at=utc(2026, 12, 15)),
        grants.Grant(5, 7, "revoked", START, END, ended_at=utc(2026, 12, 1)),
        grant(6, state="approved", end=utc(2026, 12, 22)),
    ]
    assert grants.digest(g, now) == {
        "requested": [3],
        "active": [1, 2],
        "ending": [6, 1],
        "ended": [4],
    }
    assert not any(grants.digest([g[4]], now).values()), "nothing to send"
