"""Renewal, release of the unleasable, evidence and the starvation guard
(policy/leases.py, policy/starvation.py)."""

import json

from policy_factories import (
    CHANNELS,
    QUIET,
    T0,
    Run,
    bulk_blocks_http,
    http,
    job,
    leased,
    policy,
    sample,
    table,
    wait,
)

from peak_governor.policy import (
    MAX_LISTED,
)

# -- renewal, release ---------------------------------------------------------


def test_held_leases_are_renewed_every_cycle_while_needed():
    run = Run()
    run.step(bulk_blocks_http(), T0)
    # The bulk job finished; a request now waits on another request.
    still = sample(wait(http(10), 2.0, 11), blockers=[http(11)])
    for t in range(1, 15):
        decision = run.step(still, T0 + t)
        assert [(a.kind, a.channel, a.reason) for a in decision.actions] == [
            ("lease", "root.bulk", "renew")
        ]
        assert decision.actions[0].evidence["first_reason"] == "blame"


def test_lease_the_actuator_failed_to_take_is_not_renewed():
    run = Run()
    run.step(bulk_blocks_http(), T0, apply=False)  # actuator failed
    still = sample(wait(http(10), 2.0, 11), blockers=[http(11)])
    assert run.step(still, T0 + 1).actions == ()
    # Blamed again: a new lease, not a renewal.
    assert leased(run.step(bulk_blocks_http(), T0 + 2))["root.bulk"].reason == "blame"


def test_held_channel_that_became_pinned_is_released_at_once():
    run = Run()
    run.step(bulk_blocks_http(), T0)
    run.channels = dict(CHANNELS, **table(("root.bulk", "bulk"), pinned={"root.bulk"}))
    decision = run.step(bulk_blocks_http(), T0 + 1)
    assert decision.actions[0].kind == "release"
    assert (decision.actions[0].channel, decision.actions[0].reason) == (
        "root.bulk",
        "unleasable",
    )
    assert "root.bulk" not in leased(decision)


def test_evidence_is_bounded_and_serialisable():
    waiters = [wait(http(p), 2.0, *range(1000, 1050)) for p in range(1, 60)]
    blockers = [job(p, "bulk", "root.bulk") for p in range(1000, 1050)]
    decision = Run().step(sample(*waiters, blockers=blockers), T0)
    evidence = leased(decision)["root.bulk"].evidence
    assert len(evidence["waiters"]) == MAX_LISTED
    assert evidence["waiters_total"] == 59
    assert all(len(w["blocker_pids"]) == MAX_LISTED for w in evidence["waiters"])
    assert len(evidence["root_blockers"]) == MAX_LISTED
    assert len(evidence["blame"]["waiter_pids"]) == MAX_LISTED
    assert len(json.dumps(evidence)) < 16_000


# -- starvation guard ---------------------------------------------------------


def test_starvation_guard_trickles_then_pauses_fully_again():
    run = Run(
        policy(max_pause_seconds=60, pause_window_seconds=600, trickle_seconds=30)
    )
    trickles = []
    for t in range(0, 200, 2):
        action = leased(run.step(bulk_blocks_http(), T0 + t))["root.bulk"]
        if action.trickle and not (trickles and trickles[-1]):
            # The switch is news; later trickle renewals are routine.
            assert action.reason == "starvation_guard"
            assert action.evidence["paused_seconds_in_window"] >= 60
            json.dumps(action.evidence)
        elif trickles:
            assert action.reason == "renew"
        trickles.append(action.trickle)
    # 60 s full pause (accounted from the first cycle it was held), 30 s
    # trickle, then full pause again for another 60 s.
    first = trickles.index(True)
    assert first * 2 in range(60, 64)
    back = trickles.index(False, first)
    assert (back - first) * 2 in range(30, 32)
    again = trickles.index(True, back)
    assert (again - back) * 2 in range(60, 64)


def _episode(run, start, seconds):
    """Contention for ``seconds``, then calm until all is released; the
    offset of the first trickle, or None."""
    for t in range(0, seconds, 2):
        if leased(run.step(bulk_blocks_http(), start + t))["root.bulk"].trickle:
            return t
    now = start + seconds
    while run.held:
        run.step(QUIET, now)
        now += 2
    return None


def test_starvation_guard_counts_pauses_within_the_rolling_window():
    # Each 40 s episode keeps root.bulk paused ~50 s (the dwell included).
    config = {"max_pause_seconds": 60, "pause_window_seconds": 600}
    run = Run(policy(**config))
    assert _episode(run, T0, 40) is None
    assert _episode(run, T0 + 200, 40) in range(8, 16)  # ~50 + ~10 s

    run = Run(policy(**config))
    assert _episode(run, T0, 40) is None
    assert _episode(run, T0 + 1000, 40) is None  # the first one slid out


def test_starvation_guard_forgets_pauses_as_they_slide_out():
    run = Run(policy(max_pause_seconds=60, pause_window_seconds=100))
    assert _episode(run, T0, 40) is None
    # 120 s later only the last ~30 s of the first pause are in the window,
    # and they keep sliding out: no trickle before ~60 s of new pause.
    assert _episode(run, T0 + 120, 80) in range(56, 66)
