"""Resume: releasing once calm, all at once or stepwise (policy/resume.py)."""

import random
from itertools import pairwise

from policy_factories import (
    QUIET,
    T0,
    WINDOW_ONLY,
    Run,
    bulk_blocks_http,
    held_leases,
    leased,
    policy,
    released,
    untagged_blocks_http,
)

from peak_governor.model import (
    ELEVATED,
    SEVERE,
)
from peak_governor.policy import (
    Policy,
    PolicyConfig,
)

# -- resume -------------------------------------------------------------------


#: The stepwise resume (opt-in since demand-aware release: default 0, all at once).
STEPWISE = {"resume_step_seconds": 20.0}


def _resume(seed):
    channels = ("root.bulk", "root.operational", "root.bulk.imports", "root.background")
    run = Run(
        Policy(PolicyConfig(demand_gate=False, **STEPWISE), random.Random(seed)),
        held=held_leases(*channels),
    )
    run.step(bulk_blocks_http(), T0)
    releases = []
    for t in range(1, 200):
        decision = run.step(QUIET, T0 + t)
        for channel in released(decision):
            releases.append((t, channel))
        renewed = set(leased(decision))
        assert renewed == set(run.held)  # the others are renewed meanwhile
        assert all(a.reason == "renew" for a in leased(decision).values())
    return releases, run


def test_resume_is_stepwise_highest_class_first_with_jitter():
    releases, run = _resume(seed=7)
    assert run.held == {}
    assert [c for _, c in releases] == [
        "root.operational",
        "root.background",
        "root.bulk",
        "root.bulk.imports",
    ]
    times = [t for t, _ in releases]
    assert times[0] == 11  # calm a dwell after T0 + 1: first release at once
    gaps = [b - a for a, b in pairwise(times)]
    assert all(10 <= g <= 31 for g in gaps)  # 20 s ± 50 %, 1 s sampling
    assert len(set(gaps)) > 1  # jittered, not a fixed beat
    assert _resume(seed=7)[0] == releases  # deterministic for a seed
    assert _resume(seed=8)[0] != releases


def test_contention_coming_back_stops_the_resume():
    run = Run(
        policy(**STEPWISE),
        held=held_leases("root.operational", "root.background", "root.bulk"),
    )
    run.step(bulk_blocks_http(), T0)
    t = 1
    while len(run.held) == 3:
        run.step(QUIET, T0 + t)
        t += 1
    decision = run.step(bulk_blocks_http(), T0 + t)
    assert released(decision) == []
    assert set(leased(decision)) == {"root.background", "root.bulk"}
    assert leased(decision)["root.bulk"].reason == "renew"
    assert leased(decision)["root.bulk"].evidence["blame"]["blocker_pids"] == [20]


def test_leases_are_wound_down_stepwise_when_acting_stops():
    run = Run(policy(**STEPWISE))
    off = {"protected": False, "peak_mode": False}
    run.step(bulk_blocks_http(12.0), T0, **off)  # severe: acts
    t = 1
    while run.policy.level == SEVERE:  # the fallback escalates meanwhile
        run.step(untagged_blocks_http(), T0 + t, **off)
        t += 1
    # The step down to elevated: no new lease, the held ones wound down.
    decision = run.decisions[-1]
    assert decision.level == ELEVATED
    assert decision.acting is True
    assert [(a.kind, a.channel, a.reason) for a in decision.actions] == [
        ("release", "root.background", "peak_off"),
        ("lease", "root.bulk", "renew"),
    ]
    while run.held:
        decision = run.step(untagged_blocks_http(), T0 + t, **off)
        t += 1
    assert released(decision) == ["root.bulk"]
    decision = run.step(untagged_blocks_http(), T0 + t, **off)
    assert decision.acting is False
    assert decision.actions == ()


def test_peak_mode_between_windows_acts_on_normal_thresholds():
    run = Run()
    # Elevated only inside a window: nothing; 2 s: elevated for normal too.
    smp = bulk_blocks_http(WINDOW_ONLY)
    assert run.step(smp, T0, protected=False).actions == ()
    decision = run.step(bulk_blocks_http(2.0), T0 + 1, protected=False)
    assert decision.level == ELEVATED
    assert decision.protected is False
    assert list(leased(decision)) == ["root.bulk"]
