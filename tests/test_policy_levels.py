"""The level: thresholds, dwell, acting in and out of Peak mode
(policy/levels.py, policy/core.py)."""

from policy_factories import (
    BETWEEN,
    QUIET,
    T0,
    WINDOW_ONLY,
    Run,
    bulk_blocks_http,
    cron,
    http,
    job,
    leased,
    sample,
    untagged,
    wait,
)

from peak_governor.model import (
    CALM,
    ELEVATED,
    SEVERE,
)

# -- level and acting -----------------------------------------------------------


def test_calm_sample_takes_no_action():
    # Short waits of protected work, and low-priority work queuing on itself.
    smp = sample(
        wait(http(10), 0.05, 20),
        wait(job(11, "bulk", "root.bulk"), 30.0, 12),
        blockers=[job(20, "bulk", "root.bulk"), job(12, "bulk", "root.bulk")],
    )
    decision = Run().step(smp, T0)
    assert decision.level == CALM
    assert decision.actions == ()
    assert decision.explanation.endswith(".")


def test_cron_and_background_waiters_do_not_raise_the_level():
    smp = sample(
        wait(cron(11), 60.0, 20),
        wait(job(12, "background", "root.background"), 60.0, 20),
        wait(untagged(13), 60.0, 20),
        blockers=[job(20, "bulk", "root.bulk")],
    )
    decision = Run().step(smp, T0)
    assert decision.level == CALM
    assert decision.actions == ()


def test_protected_thresholds_are_tighter_than_normal():
    smp = bulk_blocks_http(wait_seconds=WINDOW_ONLY)
    assert Run().step(smp, T0, protected=True).level == ELEVATED
    assert Run().step(smp, T0, protected=False).level == CALM
    # Protected without Peak mode is a stale input: normal thresholds.
    decision = Run().step(smp, T0, protected=True, peak_mode=False)
    assert decision.level == CALM
    assert decision.protected is False


def test_severe_by_count_or_by_age():
    many = sample(
        *(wait(http(p), 0.6, 20) for p in range(1, 4)),
        blockers=[job(20, "bulk", "root.bulk")],
    )
    assert Run().step(many, T0).level == SEVERE  # 3 waiters >= 0.1 s
    assert Run().step(many, T0, protected=False).level == ELEVATED  # not 5
    assert Run().step(bulk_blocks_http(10.0), T0, protected=False).level == SEVERE


def test_outside_peak_only_observes_unless_severe():
    run = Run()
    decision = run.step(bulk_blocks_http(2.0), T0, protected=False, peak_mode=False)
    assert decision.level == ELEVATED  # still computed and reported
    assert decision.acting is False
    assert decision.actions == ()
    assert "observing only" in decision.explanation
    assert "Peak mode off" in decision.explanation

    decision = run.step(bulk_blocks_http(12.0), T0 + 1, protected=False)
    assert decision.level == SEVERE
    assert decision.acting is True
    assert leased(decision)["root.bulk"].reason == "blame"


def test_level_steps_down_only_after_dwell():
    run = Run()
    assert run.step(bulk_blocks_http(1.0), T0).level == ELEVATED
    # Above the exit age, below the enter age: stays elevated.
    for t in range(1, 30):
        assert run.step(bulk_blocks_http(BETWEEN), T0 + t).level == ELEVATED
    for t in range(30, 39):
        assert run.step(QUIET, T0 + t).level == ELEVATED  # dwell not over
    assert run.step(QUIET, T0 + 40).level == CALM
    # Calm: the same wait does not enter elevated again.
    assert run.step(bulk_blocks_http(BETWEEN), T0 + 41).level == CALM


def test_severe_steps_down_one_level_per_dwell():
    run = Run()
    assert run.step(bulk_blocks_http(6.0), T0).level == SEVERE
    levels = [run.step(QUIET, T0 + t).level for t in range(1, 25)]
    # Quiet since T0 + 1: elevated 10 s later, calm after one more dwell.
    assert levels.index(ELEVATED) == 10  # T0 + 11
    assert levels.index(CALM) == 20  # T0 + 21


def test_oscillating_stream_does_not_flap():
    run = Run()
    for t in range(120):
        smp = bulk_blocks_http(1.0) if t % 6 < 3 else QUIET
        run.step(smp, T0 + t)
    for t in range(120, 160):
        run.step(QUIET, T0 + t)
    transitions = [
        (d.previous_level, d.level)
        for d in run.decisions
        if d.previous_level != d.level
    ]
    assert transitions == [(CALM, ELEVATED), (ELEVATED, CALM)]
