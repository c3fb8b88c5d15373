"""A restart mid-episode resumes it (policy/recovery.py, handover.py): the
successor releases when the predecessor would have, and a relapse after the
restart is still a relapse."""

import random

from policy_factories import QUIET, T0, Run, bulk_blocks_http, leased, released

from peak_governor.handover import Found
from peak_governor.policy import Policy, PolicyConfig, restore


def _lease_evidence(decision, channel):
    action = leased(decision)[channel]
    return action.reason, action.evidence


def _relapsed_run():
    """A policy that leased, released, and leased again within the relapse
    window: minimum hold doubled to 30 s."""
    run = Run(Policy(PolicyConfig(demand_gate=False), random.Random(1)))
    run.step(bulk_blocks_http(), T0)
    t = T0
    while run.held:
        t += 1
        run.step(QUIET, t)
    t += 5
    decision = run.step(bulk_blocks_http(), t)
    assert run.policy.episode.relapses == 1
    return run, t, decision


def _successor(run, written_at, now, channel="root.bulk"):
    """What handover.take_over makes of the lease row the predecessor wrote
    at ``written_at``."""
    reason, evidence = run.last_evidence
    found = Found(channel, "gov-a", reason, evidence, False, now - written_at)
    successor = Run(
        Policy(PolicyConfig(demand_gate=False), random.Random(2)), held=dict(run.held)
    )
    relapses = evidence["backoff"]["relapses"]
    restore(
        successor.policy,
        now,
        {channel: (found.episode_age, found.first_reason)},
        relapses,
    )
    return successor


def _release_time(run, start):
    t = start
    while not released(run.step(QUIET, t)):
        t += 1
        assert t < start + 600, "never released"
    return t


def test_a_restart_mid_hold_releases_when_the_predecessor_would():
    run, leased_at, decision = _relapsed_run()
    run.last_evidence = _lease_evidence(decision, "root.bulk")
    # Three quiet cycles go by, then the governor restarts.
    for t in range(1, 4):
        run.step(QUIET, leased_at + t)
    restart = leased_at + 4
    successor = _successor(run, leased_at, restart)
    assert successor.policy.episode.relapses == 1
    expected = _release_time(run, restart)
    assert expected - leased_at >= 30, "the doubled hold"
    assert _release_time(successor, restart) == expected


def test_without_recovery_a_restart_would_release_at_once():
    # The control: the state recovery restores is what keeps the lease.
    run, leased_at, _decision = _relapsed_run()
    fresh = Run(
        Policy(PolicyConfig(demand_gate=False), random.Random(2)), held=dict(run.held)
    )
    restart = leased_at + 4
    assert _release_time(fresh, restart) - restart <= 1


def test_a_lease_soon_after_a_restart_that_followed_a_release_is_a_relapse():
    run = Run(Policy(PolicyConfig(demand_gate=False), random.Random(1)))
    run.step(bulk_blocks_http(), T0)
    released_at = _release_time(run, T0 + 1)
    successor = Run(Policy(PolicyConfig(demand_gate=False), random.Random(2)))
    restore(successor.policy, released_at + 10, {}, relapses=0, released_ago=10)
    decision = successor.step(bulk_blocks_http(), released_at + 20)
    assert "root.bulk" in leased(decision)
    assert successor.policy.episode.relapses == 1
    assert decision.actions[0].evidence["backoff"]["min_hold_seconds"] == 30
