"""The conflicts rule (peak_governor/policy/conflicts.py): protected work that lost its
transaction to a concurrent one, with no lock wait to see."""

import dataclasses
import random

from policy_factories import T0, Run, busy, job, leased, released, sample

from peak_governor.model import CALM, ELEVATED
from peak_governor.policy import Policy, PolicyConfig
from peak_governor.policy.conflicts import CONFLICT_WINDOW_S, SUSPECT_MEMORY_S


def conflicted(interactive=0, busy=(), **other):
    """A sample with ``interactive`` new conflicts of requests (plus any
    other class's in ``other``) and ``busy`` jobs inside a transaction."""
    counts = dict(other, interactive=interactive) if interactive else dict(other)
    return dataclasses.replace(sample(), conflicts_delta=counts, busy_jobs=tuple(busy))


BULK_JOB = job(20, "bulk", "root.bulk")


def gated():
    """The default policy: the demand gate on, as operators run it."""
    return Run(Policy(PolicyConfig(), random.Random(42)))


def test_conflicts_while_bulk_jobs_run_lease_the_bulk_channel():
    run = gated()
    first = run.step(conflicted(1, [BULK_JOB]), T0)
    assert first.level == ELEVATED
    assert leased(first) == {}  # one conflict is a coincidence
    assert "conflict" in first.explanation
    second = run.step(conflicted(1, [BULK_JOB]), T0 + 1)
    action = leased(second)["root.bulk"]
    assert action.reason == "blame"
    assert action.evidence["demand"]["gate"] == "conflicts"
    assert action.evidence["conflicts"]["in_window"] == 2
    blame = action.evidence["blame"]
    assert blame["conflict_suspect_pids"] == [20]
    assert blame["conflicts"] == {"interactive": 1}


def test_conflicts_with_no_job_running_change_nothing():
    # Pickers colliding with each other: pausing a channel would not help.
    run = gated()
    for second in range(5):
        decision = run.step(conflicted(2), T0 + second)
        assert decision.level == CALM
        assert leased(decision) == {}
    assert "2 conflicts, no job running" in decision.explanation
    assert run.held == {}
    # The same conflicts while a bulk job runs are the governor's business.
    assert run.step(conflicted(2, [BULK_JOB]), T0 + 6).level == ELEVATED


def test_pickers_colliding_in_a_window_do_not_hold_it_open():
    """A drained window's wave of pickers collides with itself to its last
    second; the leases end with the window all the same."""
    run = Run(Policy(PolicyConfig(drain="5.0"), random.Random(42)))
    run.step(sample(), T0, protected=False, next_window_at=T0 + 5)
    assert set(run.held) == {"root.background", "root.bulk"}
    for second in range(5, 35):
        wave = busy(T0 + second, 10)
        run.step(dataclasses.replace(wave, conflicts_delta={"interactive": 3}),
                 T0 + second, protected=True)  # fmt: skip
    assert set(run.held) == {"root.background", "root.bulk"}
    decision = run.step(sample(), T0 + 35, protected=False)
    assert sorted(released(decision)) == ["root.background", "root.bulk"]


def test_conflicts_spare_jobs_as_important_as_the_work_that_lost():
    operational = job(21, "operational", "root.operational")
    critical = job(22, "critical", "root.critical")
    run = gated()
    for second in range(3):
        # An operational job losing to another operational job: peers.
        run.step(conflicted(operational=2, busy=[operational, critical]), T0 + second)
    assert run.held == {}
    # A request losing while an operational job runs: it may be paused.
    run.step(conflicted(2, [operational]), T0 + 4)
    assert set(run.held) == {"root.operational"}


def test_a_job_that_committed_just_before_the_conflict_is_still_a_suspect():
    run = gated()
    run.step(conflicted(0, [BULK_JOB]), T0)  # seen running, then it commits
    run.step(conflicted(1), T0 + SUSPECT_MEMORY_S - 2)
    decision = run.step(conflicted(1), T0 + SUSPECT_MEMORY_S - 1)
    assert "root.bulk" in leased(decision)


def test_suspects_are_forgotten_and_spread_out_conflicts_are_no_wave():
    run = gated()
    run.step(conflicted(0, [BULK_JOB]), T0)
    late = run.step(conflicted(2), T0 + SUSPECT_MEMORY_S + 1)
    assert leased(late) == {}  # the job is long gone: nobody to blame
    run = gated()
    for n in range(4):  # one conflict every window: never two within one
        decision = run.step(conflicted(1, [BULK_JOB]), T0 + n * (CONFLICT_WINDOW_S + 1))
        assert leased(decision) == {}


def test_conflicts_of_unprotected_work_are_ignored():
    run = gated()
    for second in range(3):
        decision = run.step(
            conflicted(0, [BULK_JOB], bulk=5, background=3), T0 + second
        )
        assert decision.level == CALM
        assert leased(decision) == {}


def test_conflicts_outside_peak_mode_are_observed_only():
    run = gated()
    for second in range(3):
        decision = run.step(
            conflicted(2, [BULK_JOB]), T0 + second, protected=False, peak_mode=False
        )
        assert not decision.acting
        assert decision.actions == ()


def test_a_conflict_lease_is_held_then_released_like_any_other():
    run = gated()
    run.step(conflicted(2, [BULK_JOB]), T0)
    assert set(run.held) == {"root.bulk"}
    released_at = None
    for second in range(1, 120):
        decision = run.step(conflicted(0), T0 + second)
        if not run.held:
            released_at = second
            break
        assert all(a.reason in ("renew", "hold") for a in decision.actions)
    assert released_at is not None
    # Not before the minimum hold, not long after the dwell and the quiet time.
    config = PolicyConfig()
    assert config.min_hold_seconds <= released_at <= config.min_hold_seconds + 15


def test_peers_colliding_do_not_make_a_lone_conflict_a_wave():
    operational = job(21, "operational", "root.operational")
    run = gated()
    # Operational jobs losing to each other: peers, pausing would not help...
    for second in range(3):
        run.step(conflicted(operational=3, busy=[operational]), T0 + second)
    # ...so they make no collision pattern of one request's conflict with a
    # bulk job: that is still a coincidence.
    decision = run.step(conflicted(1, [BULK_JOB, operational]), T0 + 3)
    assert decision.explanation.count("1 with lower-class jobs running") == 1
    assert leased(decision) == {}
