"""The governor's decision core, fed hand-built samples and fake times."""

import json
import random
import re
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from peak_governor.attribution import OTHER, Role, role_label
from peak_governor.model import (
    CALM,
    ELEVATED,
    SEVERE,
    Activity,
    Backend,
    ChannelInfo,
    LeaseState,
    Sample,
    Waiter,
)
from peak_governor.policy import (
    MAX_LISTED,
    PROTECTED_THRESHOLDS,
    Policy,
    PolicyConfig,
    Thresholds,
    drain_lead,
)
from peak_governor.schedule import peak_state

T0 = 1000.0  # fake clock

# -- factories ----------------------------------------------------------------


def _backend(pid, role):
    return Backend(pid, role, role_label(role), "active", 3.0)


def http(pid):
    return _backend(pid, Role(kind="interactive", label="sale.order.action_confirm"))


def cron(pid):
    return _backend(pid, Role(kind="cron", cron_id=7, label="procurement"))


def job(pid, cls, channel, truncated=False):
    role = Role(
        kind="job",
        priority_class=cls,
        channel=channel,
        channel_truncated=truncated,
        job_uuid=f"00000000-0000-0000-0000-{pid:012d}",
    )
    return _backend(pid, role)


def untagged(pid):
    return _backend(pid, OTHER)


def wait(backend, seconds, *blocker_pids):
    return Waiter(backend, seconds, tuple(blocker_pids))


def sample(*waiters, blockers=(), activity=()):
    return Sample(
        database="peak",
        taken_at=0.0,
        waiters=tuple(waiters),
        blockers={b.pid: b for b in blockers},
        deadlocks_total=0,
        deadlocks_delta=0,
        duration_seconds=0.01,
        protected_activity=tuple(activity),
    )


def busy(now, per_sample=3, *waiters, blockers=()):
    """A sample seeing ``per_sample`` new protected statements (a wave going
    on) and, optionally, waiters."""
    activity = [
        Activity(pid=100 + i, changed_at=now + i / 100, age_seconds=0.05, active=i == 0)
        for i in range(per_sample)
    ]
    return sample(*waiters, blockers=blockers, activity=activity)


def table(*specs, pinned=(), paused=()):
    return {
        name: ChannelInfo(name, cls, name in pinned, name in paused)
        for name, cls in specs
    }


CHANNELS = table(
    ("root", "operational"),
    ("root.critical", "critical"),
    ("root.operational", "operational"),
    ("root.background", "background"),
    ("root.bulk", "bulk"),
    ("root.bulk.imports", "bulk"),
)

QUIET = sample()
PROTECTED = PROTECTED_THRESHOLDS
NORMAL = Thresholds()
# Elevated inside a window only: between the two enter ages.
WINDOW_ONLY = (PROTECTED.elevated_enter_age + NORMAL.elevated_enter_age) / 2
# Keeps elevated but cannot enter it (inside a window).
BETWEEN = (PROTECTED.elevated_exit_age + PROTECTED.elevated_enter_age) / 2


def bulk_blocks_http(wait_seconds=2.0):
    return sample(
        wait(http(10), wait_seconds, 20), blockers=[job(20, "bulk", "root.bulk")]
    )


def untagged_blocks_http():
    return sample(wait(http(10), 2.0, 30), blockers=[untagged(30)])


def policy(**overrides):
    # Most tests look at a sample of contention without the wave of demand
    # around it (hand-built samples carry no protected activity): the demand
    # gate, tested on its own below, is off for them unless asked for.
    overrides.setdefault("demand_gate", False)
    return Policy(PolicyConfig(**overrides), random.Random(42))


class Run:
    """A policy plus a fake actuator that applies its actions."""

    def __init__(self, pol=None, channels=CHANNELS, held=None):
        self.policy = pol or policy()
        self.channels = channels
        self.held = dict(held or {})
        self.decisions = []

    def step(self, smp, now, protected=True, peak_mode=True, apply=True, **more):
        decision = self.policy.decide(
            smp, self.channels, dict(self.held), now, protected, peak_mode, **more
        )
        self.decisions.append(decision)
        if apply:
            for action in decision.actions:
                if action.kind == "release":
                    self.held.pop(action.channel, None)
                else:
                    since = self.held.get(action.channel)
                    since = since.since if since else now
                    self.held[action.channel] = LeaseState(
                        action.channel, since, action.trickle
                    )
        return decision


def leased(decision):
    return {a.channel: a for a in decision.actions if a.kind == "lease"}


def released(decision):
    return [a.channel for a in decision.actions if a.kind == "release"]


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


# -- blame --------------------------------------------------------------------


def test_bulk_job_blocking_a_request_is_blamed_at_once():
    decision = Run().step(bulk_blocks_http(), T0)
    assert decision.acting is True
    assert [(a.kind, a.channel, a.reason, a.trickle) for a in decision.actions] == [
        ("lease", "root.bulk", "blame", False)
    ]
    evidence = decision.actions[0].evidence
    json.dumps(evidence)  # goes to a jsonb column
    assert evidence["blame"] == {"waiter_pids": [10], "blocker_pids": [20]}
    assert evidence["waiters"][0] == {
        "pid": 10,
        "role": "interactive",
        "wait_seconds": 2.0,
        "blocker_pids": [20],
    }
    assert evidence["root_blockers"][0]["channel"] == "root.bulk"
    assert evidence["thresholds"] == vars(PROTECTED_THRESHOLDS)
    assert "root.bulk" in decision.explanation


def test_known_blocker_is_the_only_channel_leased():
    smp = sample(
        wait(http(10), 2.0, 20), blockers=[job(20, "background", "root.background")]
    )
    run = Run()
    for t in range(10):  # also over many cycles: no fallback creeps in
        run.step(smp, T0 + t)
    assert set(run.held) == {"root.background"}
    assert all(set(leased(d)) == {"root.background"} for d in run.decisions)


def test_job_in_unknown_sub_channel_leases_closest_ancestor():
    smp = sample(
        wait(http(10), 2.0, 20),
        blockers=[job(20, "bulk", "root.bulk.imports.batch_42.part_1")],
    )
    decision = Run().step(smp, T0)
    assert list(leased(decision)) == ["root.bulk.imports"]
    assert leased(decision)["root.bulk.imports"].reason == "blame"


def test_truncated_channel_tag_resolves_a_unique_tail():
    smp = sample(
        wait(http(10), 2.0, 20),
        blockers=[job(20, "bulk", "lk.imports", truncated=True)],
    )
    assert list(leased(Run().step(smp, T0))) == ["root.bulk.imports"]


def test_sanitised_channel_tag_resolves_the_real_name():
    channels = dict(CHANNELS, **table(("root.bulk.Entrepôt", "bulk")))
    smp = sample(
        wait(http(10), 2.0, 20), blockers=[job(20, "bulk", "root.bulk.Entrep_t")]
    )
    decision = Run(channels=channels).step(smp, T0)
    assert list(leased(decision)) == ["root.bulk.Entrepôt"]


def test_chain_of_blockers_blames_the_root_blocker():
    # request 10 waits on bulk job 20, which itself waits on background job 30
    smp = sample(
        wait(http(10), 2.0, 20),
        wait(job(20, "bulk", "root.bulk"), 3.0, 30),
        blockers=[
            job(20, "bulk", "root.bulk"),
            job(30, "background", "root.background"),
        ],
    )
    decision = Run().step(smp, T0)
    assert list(leased(decision)) == ["root.background"]
    assert leased(decision)["root.background"].evidence["blame"]["blocker_pids"] == [30]


def test_deadlock_cycle_terminates():
    smp = sample(
        wait(http(10), 2.0, 20),
        wait(job(20, "bulk", "root.bulk"), 2.0, 10),
        blockers=[http(10), job(20, "bulk", "root.bulk")],
    )
    assert list(leased(Run().step(smp, T0))) == ["root.bulk"]


@pytest.mark.parametrize(
    "blocker",
    [
        http(20),
        cron(20),
        job(20, "critical", "root.critical"),
        job(20, "operational", "root.operational"),  # a peer of the waiter
    ],
    ids=["request", "cron", "critical-job", "peer-job"],
)
def test_known_blockers_that_are_not_lower_priority_are_spared(blocker):
    waiter = job(10, "operational", "root.operational")
    smp = sample(wait(waiter, 2.0, 20), blockers=[blocker])
    run = Run()
    for t in range(10):
        decision = run.step(smp, T0 + t)
        assert decision.level == ELEVATED
        assert decision.actions == ()


def test_operational_job_blocking_a_request_is_blamed():
    smp = sample(
        wait(http(10), 2.0, 20),
        blockers=[job(20, "operational", "root.operational")],
    )
    assert list(leased(Run().step(smp, T0))) == ["root.operational"]


# -- fallback -----------------------------------------------------------------


def test_untagged_blocker_falls_back_by_class_and_escalates():
    channels = table(
        ("root", "operational"),
        ("root.critical", "critical"),
        ("root.operational", "operational"),
        ("root.background", "background"),
        ("root.bulk", "bulk"),
        ("root.vip", "bulk"),
        ("root.mixed", "bulk"),
        ("root.mixed.urgent", "critical"),
        pinned={"root.vip"},
    )
    run = Run(policy(fallback_escalate_cycles=3), channels)
    new = {}
    for t in range(20):
        decision = run.step(untagged_blocks_http(), T0 + t)
        for channel, action in leased(decision).items():
            new.setdefault(channel, (t, action.reason))
    assert new == {
        "root.bulk": (0, "fallback"),
        "root.background": (3, "fallback"),
        "root.operational": (6, "fallback"),
    }
    # Never root, critical, pinned, or a parent of something critical.
    assert set(run.held) == {"root.bulk", "root.background", "root.operational"}


def test_fallback_for_an_operational_waiter_never_pauses_operational():
    smp = sample(
        wait(job(10, "operational", "root.operational"), 2.0, 30),
        blockers=[untagged(30)],
    )
    run = Run(policy(fallback_escalate_cycles=1))
    for t in range(10):
        run.step(smp, T0 + t)
    assert set(run.held) == {"root.bulk", "root.background"}


def test_fallback_restarts_from_bulk_after_calm():
    run = Run(policy(fallback_escalate_cycles=1))
    for t in range(3):
        run.step(untagged_blocks_http(), T0 + t)
    assert "root.background" in run.held
    t = 3
    while run.held:
        run.step(QUIET, T0 + t)
        t += 1
    decision = run.step(untagged_blocks_http(), T0 + t)
    assert list(leased(decision)) == ["root.bulk"]


def test_blocker_in_pinned_channel_falls_back_to_another_channel():
    channels = table(
        ("root", "operational"),
        ("root.bulk", "bulk"),
        ("root.bulk.vip", "bulk"),
        ("root.bulk.imports", "bulk"),
        ("root.background", "background"),
        pinned={"root.bulk.vip"},
    )
    smp = sample(wait(http(10), 2.0, 20), blockers=[job(20, "bulk", "root.bulk.vip")])
    decision = Run(channels=channels).step(smp, T0)
    # Neither the pinned channel nor its parent: the bulk sub-tree that can be.
    assert [(a.channel, a.reason) for a in decision.actions] == [
        ("root.bulk.imports", "fallback")
    ]


def test_nothing_leasable_means_no_action():
    channels = table(
        ("root", "operational"),
        ("root.bulk", "bulk"),
        ("root.critical", "critical"),
        pinned={"root.bulk"},
    )
    smp = sample(wait(http(10), 2.0, 20), blockers=[job(20, "bulk", "root.bulk")])
    run = Run(channels=channels)
    for t in range(10):
        assert run.step(smp, T0 + t).actions == ()


def test_fallback_skips_channels_a_human_paused():
    channels = dict(CHANNELS, **table(("root.bulk", "bulk"), paused={"root.bulk"}))
    decision = Run(channels=channels).step(untagged_blocks_http(), T0)
    assert list(leased(decision)) == ["root.background"]


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


# -- resume -------------------------------------------------------------------


def _held(*channels, now=T0):
    return {c: LeaseState(c, now) for c in channels}


#: The stepwise resume (opt-in since demand-aware release: default 0, all at once).
STEPWISE = {"resume_step_seconds": 20.0}


def _resume(seed):
    channels = ("root.bulk", "root.operational", "root.bulk.imports", "root.background")
    run = Run(
        Policy(PolicyConfig(demand_gate=False, **STEPWISE), random.Random(seed)),
        held=_held(*channels),
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
        held=_held("root.operational", "root.background", "root.bulk"),
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


# -- demand-aware hold, release and backoff ------------------------------------


def bulk_and_background_block_http():
    return sample(
        wait(http(10), 2.0, 20),
        wait(http(11), 2.0, 21),
        blockers=[
            job(20, "bulk", "root.bulk"),
            job(21, "background", "root.background"),
        ],
    )


def test_calm_holds_while_the_wave_goes_on_then_releases_all_at_once():
    run = Run()
    first = run.step(bulk_and_background_block_http(), T0)
    assert set(leased(first)) == {"root.bulk", "root.background"}
    # The pause works: nothing waits any more, but the wave goes on for 60 s.
    for t in range(1, 61):
        decision = run.step(busy(T0 + t), T0 + t)
        assert released(decision) == [], f"released inside the wave at +{t} s"
    assert decision.level == CALM
    hold = leased(decision)["root.bulk"]
    assert hold.reason == "hold"
    assert "demand persists" in hold.evidence["hold"]
    assert hold.evidence["demand"]["rate_per_second"] >= 1.0
    assert hold.evidence["first_reason"] == "blame"
    assert "holding root.background, root.bulk" in decision.explanation
    # The wave ends: both are released together, within a few seconds.
    for t in range(61, 80):
        decision = run.step(QUIET, T0 + t)
        if released(decision):
            break
    assert sorted(released(decision)) == ["root.background", "root.bulk"]
    assert t - 60 <= 10, f"released {t - 60} s after the wave"
    release = decision.actions[0]
    assert release.reason == "calm"
    assert release.evidence["demand"]["persists"] is False
    assert run.held == {}


def test_a_trickle_of_protected_work_does_not_hold_forever():
    run = Run()
    run.step(bulk_blocks_http(), T0)
    for t in range(1, 60):
        # One statement every 5 s: below demand_min_rate (1/s).
        smp = busy(T0 + t, per_sample=1) if t % 5 == 0 else QUIET
        decision = run.step(smp, T0 + t)
        if released(decision):
            break
    assert released(decision) == ["root.bulk"]
    assert t <= 20  # dwell (10 s) and minimum hold (15 s) from T0, no more


def test_the_wave_ends_when_demand_falls_back_to_the_office_level():
    """Background office work (2 statements/s) goes on after the wave
    (10/s): the hold ends with the wave, not with the office day."""
    run = Run()
    run.step(bulk_blocks_http(), T0)
    for t in range(1, 40):
        decision = run.step(busy(T0 + t, per_sample=10), T0 + t)
        assert released(decision) == []
    for t in range(40, 70):
        decision = run.step(busy(T0 + t, per_sample=2), T0 + t)
        if released(decision):
            break
    assert released(decision) == ["root.bulk"]
    assert t - 40 <= 10
    demand = decision.actions[0].evidence["demand"]
    assert demand["episode_peak_per_second"] >= 10
    assert demand["rate_per_second"] < demand["threshold_per_second"]


# A lone wait the gate leaves alone: elevated in a window, under a second.
SHORT = 0.5


def test_demand_gate_leaves_a_lone_wait_outside_a_wave():
    run = Run(policy(demand_gate=True))
    decision = run.step(bulk_blocks_http(SHORT), T0)  # elevated, nothing else
    assert decision.level == ELEVATED
    assert decision.actions == ()
    assert "a lone protected wait, no wave" in decision.explanation
    assert run.policy._demand["gate"] == "closed"


def test_demand_gate_ignores_the_statements_of_a_lone_request():
    """One request that authenticates, waits and retries shows as many
    statements (6 here, 3/s): activity is no wave, other waiters are."""
    smp = busy(
        T0, 6, wait(http(10), SHORT, 20), blockers=[job(20, "bulk", "root.bulk")]
    )
    decision = Run(policy(demand_gate=True)).step(smp, T0)
    assert decision.actions == ()
    assert "no wave" in decision.explanation


def test_demand_gate_counts_the_waiters_of_the_last_seconds():
    """Two requests that waited one after the other within the demand
    window are a wave; the same two further apart are two lone waits."""
    first, second = wait(http(10), 0.3, 20), wait(http(11), 0.3, 20)
    blockers = [job(20, "bulk", "root.bulk")]
    window = PolicyConfig().demand_window_seconds
    run = Run(policy(demand_gate=True))
    assert run.step(sample(first, blockers=blockers), T0).actions == ()
    decision = run.step(sample(second, blockers=blockers), T0 + window / 2)
    assert list(leased(decision)) == ["root.bulk"]
    assert decision.actions[0].evidence["demand"]["protected_waiters_in_window"] == 2

    run = Run(policy(demand_gate=True))
    run.step(sample(first, blockers=blockers), T0)
    run.step(QUIET, T0 + 1)
    decision = run.step(sample(second, blockers=blockers), T0 + window + 1)
    assert decision.actions == ()


@pytest.mark.parametrize(
    ("smp", "why"),
    [
        (sample(wait(http(10), 2.0, 20), wait(http(11), 2.0, 20),
                blockers=[job(20, "bulk", "root.bulk")]),
         "two protected waiters"),
        (bulk_blocks_http(6.0), "severe always acts"),
    ],
)  # fmt: skip
def test_demand_gate_opens_for_two_waiters_or_severe(smp, why):
    decision = Run(policy(demand_gate=True)).step(smp, T0)
    assert list(leased(decision)) == ["root.bulk"], why


def test_demand_gate_keeps_renewing_what_is_held():
    run = Run(policy(demand_gate=True), held=_held("root.bulk"))
    decision = run.step(bulk_blocks_http(SHORT), T0)
    assert [(a.kind, a.reason) for a in decision.actions] == [("lease", "renew")]


# The documented profile that lets one starving request through the gate.
PICKERS_FIRST = {"demand_gate": True, "protect_starving": True}


def _retried(run, first_at, again_at, pid=10):
    """Request ``pid`` waits a short while on bulk, Odoo rolls it back and
    sleeps, then the retry waits again."""
    blockers = [job(20, "bulk", "root.bulk")]
    run.step(sample(wait(http(pid), SHORT, 20), blockers=blockers), first_at)
    run.step(QUIET, first_at + 0.5)
    return run.step(sample(wait(http(pid), SHORT, 20), blockers=blockers), again_at)


def test_by_default_the_gate_leaves_a_starving_request_to_severe():
    """Off by default: a lease per starving request costs bulk more than
    the issue's bar leaves (bench/README.md, fourth pass)."""
    run = Run(policy(demand_gate=True))
    assert PolicyConfig().protect_starving is False
    assert _retried(run, T0, T0 + 3.0).actions == ()
    assert run.step(bulk_blocks_http(1.5), T0 + 3.2).actions == ()
    assert run.policy._demand["gate"] == "closed"
    severe = PROTECTED.severe_enter_age
    assert list(leased(run.step(bulk_blocks_http(severe), T0 + 4.2)))


def test_demand_gate_opens_for_a_lone_wait_of_a_second():
    """A second on a lock is no fraction of a second: leased at once, before
    the severe age (2.5 s in a window) is reached."""
    run = Run(policy(**PICKERS_FIRST))
    wait_s = PolicyConfig().demand_gate_max_wait
    assert run.step(bulk_blocks_http(wait_s * 0.9), T0).actions == ()
    decision = run.step(bulk_blocks_http(wait_s), T0 + 0.2)
    assert decision.level == ELEVATED
    assert list(leased(decision)) == ["root.bulk"]
    assert leased(decision)["root.bulk"].evidence["demand"]["gate"] == "long_wait"


def test_demand_gate_opens_for_a_request_odoo_retries():
    run = Run(policy(**PICKERS_FIRST))
    decision = _retried(run, T0, T0 + 3.0)
    assert list(leased(decision)) == ["root.bulk"]
    demand = leased(decision)["root.bulk"].evidence["demand"]
    assert demand["gate"] == "starving"
    assert demand["starving_pids"] == [10]


def test_one_long_wait_is_not_a_retry_and_old_waits_are_forgotten():
    run = Run(policy(**PICKERS_FIRST))
    blockers = [job(20, "bulk", "root.bulk")]
    for t in range(3):  # the same wait seen three times: no retry
        smp = sample(wait(http(10), 0.3 + t * 0.2, 20), blockers=blockers)
        assert run.step(smp, T0 + t * 0.2).actions == ()
    # Another wait of the same backend, after Odoo's whole retry span.
    run = Run(policy(**PICKERS_FIRST))
    assert _retried(run, T0, T0 + 31.0).actions == ()


def _flap(minutes: int, contention=lambda t: bulk_blocks_http(), **config):
    """Bulk blocks a request whenever it is not paused (``contention(t)``:
    the sample then), and the pause always makes the waits vanish (no demand
    visible): the worst case for flapping; by default with the demand gate
    off (it would not lease a lone wait at all).  Returns the seconds of
    every transition, the relapse count of every lease and the gates that
    opened for new leases."""
    run = Run(policy(**config))
    transitions, relapses, gates = [], [], set()
    for t in range(minutes * 60):
        was = set(run.held)
        decision = run.step(QUIET if "root.bulk" in was else contention(t), T0 + t)
        for action in decision.actions:
            if action.kind == "release" or action.channel not in was:
                transitions.append(t)
            if action.kind == "lease" and action.channel not in was:
                gates.add(action.evidence["demand"]["gate"])
        if leased(decision).get("root.bulk"):
            relapses.append(
                leased(decision)["root.bulk"].evidence["backoff"]["relapses"]
            )
    return transitions, relapses, gates


def _assert_two_a_minute(transitions, minutes):
    """Over the run and over every 5-minute window, at most 2 a minute."""
    assert len(transitions) / minutes <= 2
    for start in range(0, (minutes - 5) * 60, 10):
        count = sum(1 for t in transitions if start <= t < start + 300)
        assert count <= 10, f"{count} transitions in 5 minutes from +{start} s"


def test_relapses_back_off_so_flapping_stays_under_two_transitions_a_minute():
    transitions, relapses, _gates = _flap(30)
    assert len(transitions) >= 6, "the scenario does flap"
    assert max(relapses) >= 4, "each relapse holds longer"
    _assert_two_a_minute(transitions, 30)
    holds = [b - a for a, b in zip(transitions[::2], transitions[1::2], strict=False)]
    assert holds == sorted(holds), "holds never shrink while it keeps relapsing"
    assert max(holds) <= 300 + 11  # capped at max_hold_seconds (+ dwell slack)


def test_starving_requests_and_waves_mixed_still_back_off():
    """Pickers first: lone leases (a request retried, a wait of a second)
    interleaved with waves, every one of them coming back the moment bulk
    runs again: still at most 2 transitions a minute over any 5 minutes."""
    blockers = [job(20, "bulk", "root.bulk")]
    wave = sample(
        wait(http(11), SHORT, 20), wait(http(12), SHORT, 20), blockers=blockers
    )
    long_wait = sample(wait(http(10), 1.2, 20), blockers=blockers)
    retry = sample(wait(http(13), SHORT, 20), blockers=blockers)
    cycle = (QUIET, wave, QUIET, long_wait, QUIET, retry, QUIET)
    transitions, _relapses, gates = _flap(
        30, contention=lambda t: cycle[t % 7], **PICKERS_FIRST
    )
    assert gates >= {"wave", "long_wait"}, gates
    _assert_two_a_minute(transitions, 30)


def test_without_backoff_the_same_scenario_would_flap():
    """The bound comes from the backoff, not from the scenario."""
    transitions, _relapses, _gates = _flap(
        10, min_hold_seconds=0.0, release_quiet_seconds=0.0, relapse_window_seconds=0.0
    )
    assert len(transitions) / 10 > 2


def test_a_new_window_starts_the_backoff_over():
    run = Run()
    for t in range(200):
        run.step(QUIET if run.held else bulk_blocks_http(), T0 + t)
    assert run.policy._relapses >= 2
    run.step(bulk_blocks_http(), T0 + 200, protected=False)
    assert run.policy._relapses == 0


# -- pre-window drain -----------------------------------------------------------


def test_bulk_and_background_are_drained_before_a_window_opens():
    run = Run(policy(drain_lead_seconds=30.0))
    window = T0 + 100
    off_window = {"protected": False, "next_window_at": window}
    assert run.step(QUIET, T0, **off_window).actions == ()
    assert run.step(QUIET, T0 + 69, **off_window).actions == ()
    decision = run.step(QUIET, T0 + 71, **off_window)
    drained = leased(decision)
    # The largest sub-trees: root.bulk covers root.bulk.imports.
    assert set(drained) == {"root.background", "root.bulk"}
    lease = drained["root.bulk"]
    assert lease.reason == "pre_window_drain"
    assert lease.evidence["drain"]["lead_seconds"] == 30.0
    assert lease.evidence["drain"]["lead_source"] == "configured"
    assert lease.evidence["drain"]["seconds_to_window"] == 29.0
    assert "draining root.background, root.bulk before the window" in (
        decision.explanation
    )
    for t in range(72, 100):
        decision = run.step(QUIET, T0 + t, **off_window)
        assert {a.reason for a in decision.actions} == {"renew"}
    # Open: held into the window, then released at once (no demand came).
    for t in range(100, 130):
        decision = run.step(QUIET, T0 + t, protected=True)
        if released(decision):
            break
    assert t - 100 >= 15, "drained channels were released as the window opened"
    assert sorted(released(decision)) == ["root.background", "root.bulk"]


def test_drain_keeps_a_wave_protected_by_demand():
    run = Run(policy(drain_lead_seconds=10.0))
    window = T0 + 10
    run.step(QUIET, T0 + 1, protected=False, next_window_at=window)
    assert set(run.held) == {"root.background", "root.bulk"}
    for t in range(10, 70):  # the wave of the window: 60 s of pickers
        decision = run.step(busy(T0 + t), T0 + t, protected=True)
        assert released(decision) == []
    assert leased(decision)["root.bulk"].reason == "hold"


def test_drained_channels_are_released_when_the_window_closes():
    """The wave of the window still shows as demand when it closes (its
    rate decays over the demand window): the plan ends with the window."""
    run = Run(policy(drain_lead_seconds=5.0))
    run.step(QUIET, T0, protected=False, next_window_at=T0 + 5)
    assert set(run.held) == {"root.background", "root.bulk"}
    for t in range(5, 35):
        decision = run.step(busy(T0 + t, 10), T0 + t, protected=True)
        assert released(decision) == []
    decision = run.step(busy(T0 + 35, 10), T0 + 35, protected=False)
    assert sorted(released(decision)) == ["root.background", "root.bulk"]
    # An unannounced wave afterwards is held by its demand again, as usual.
    run.step(sample(wait(http(10), 2.0, 20), wait(http(11), 2.0, 20),
                    blockers=[job(20, "bulk", "root.bulk")]), T0 + 200,
             protected=True)  # fmt: skip
    assert "root.bulk" in run.held
    for t in range(201, 240):
        decision = run.step(busy(T0 + t, 10), T0 + t, protected=True)
        assert released(decision) == []


def test_contention_at_the_window_close_keeps_the_lease():
    run = Run(policy(drain_lead_seconds=5.0))
    run.step(QUIET, T0, protected=False, next_window_at=T0 + 5)
    run.step(QUIET, T0 + 6, protected=True)
    blocked = sample(wait(http(10), 2.0, 20), blockers=[job(20, "bulk", "root.bulk")])
    decision = run.step(blocked, T0 + 30, protected=False)
    assert released(decision) == []
    assert leased(decision)["root.bulk"].reason == "renew"


def test_drain_lead_comes_from_recent_job_durations_with_a_cap():
    default = PolicyConfig()
    assert drain_lead(default, None) == (30.0, "default, no recent job")
    assert drain_lead(default, 4.0)[0] == 7.0  # 1.5 x 4 + 1
    assert drain_lead(default, 1.0)[0] == 2.5  # 1.5 x 1 + 1
    assert drain_lead(default, 0.5)[0] == 2.0  # floor
    lead, source = drain_lead(default, 600.0)
    assert lead == 120.0 and source.endswith("capped")
    assert drain_lead(PolicyConfig(drain_lead_seconds=45.0), 600.0) == (
        45.0,
        "configured",
    )
    assert drain_lead(PolicyConfig(pre_window_drain=False), 4.0) == (0.0, "off")


def test_drain_off_or_far_window_takes_no_action():
    run = Run(policy(pre_window_drain=False))
    assert run.step(QUIET, T0, next_window_at=T0 + 5).actions == ()
    run = Run()
    assert run.step(QUIET, T0, next_window_at=T0 + 3600).actions == ()


def test_schedule_reports_the_next_window():
    def iso(t):
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    now = 1_800_000_000.0
    doc = {
        "version": 1,
        "valid_from": iso(now - 3600),
        "valid_until": iso(now + 7200),
        "intervals": [[iso(now - 60), iso(now + 60)], [iso(now + 600), iso(now + 900)]],
        "peak_mode": [[iso(now - 3600), iso(now + 7200)]],
    }
    state = peak_state(json.dumps(doc), now)
    assert state.protected and state.next_window_at == now + 600
    # Back to back with the open one: no new window, nothing to drain for.
    doc["intervals"][1] = [iso(now + 60), iso(now + 900)]
    assert peak_state(json.dumps(doc), now).next_window_at is None
    doc["intervals"][1] = [iso(now + 600), iso(now + 900)]
    assert peak_state(json.dumps(doc), now + 700).next_window_at is None
    doc["intervals"] = [["garbage"]]
    assert peak_state(json.dumps(doc), now).next_window_at is None


# -- preemption (opt-in) ----------------------------------------------------------


def preempts(decision):
    return [a for a in decision.actions if a.kind == "preempt"]


def test_preemption_is_off_by_default():
    decision = Run().step(bulk_blocks_http(12.0), T0)
    assert decision.level == SEVERE
    assert preempts(decision) == []


def test_a_running_bulk_job_blocking_protected_work_is_preempted_once():
    run = Run(policy(preempt_after=3.0))
    decision = run.step(bulk_blocks_http(6.0), T0)
    assert decision.level == SEVERE
    [preempt] = preempts(decision)
    assert (preempt.pid, preempt.channel) == (20, "root.bulk")
    assert preempt.job_uuid == job(20, "bulk", "root.bulk").role.job_uuid
    assert preempt.reason == "preempt"
    assert preempt.evidence["preempted"]["blocked_protected_seconds"] == 6.0
    assert preempt.evidence["preempted"]["preempt_after"] == 3.0
    assert "root.bulk" in leased(decision), "its channel is leased as well"
    assert "preempting job" in decision.explanation
    json.dumps(preempt.evidence)
    # The same job still blocking (the cancel is on its way): never twice.
    assert preempts(run.step(bulk_blocks_http(7.0), T0 + 1)) == []


@pytest.mark.parametrize(
    ("smp", "why"),
    [
        (bulk_blocks_http(2.0), "not severe, not waited long enough"),
        (
            sample(
                wait(http(10), 6.0, 20),
                blockers=[
                    Backend(
                        20,
                        job(20, "bulk", "root.bulk").role,
                        "bulk",
                        "idle in transaction",
                        3.0,
                    )
                ],
            ),
            "idle in transaction: a cancel would be ignored",
        ),
        (
            sample(
                wait(http(10), 6.0, 20),
                blockers=[job(20, "operational", "root.operational")],
            ),
            "operational work is never preempted",
        ),
        (
            sample(
                wait(job(10, "background", "root.background"), 60.0, 20),
                blockers=[job(20, "bulk", "root.bulk")],
            ),
            "background waiting is not protected work",
        ),
        (untagged_blocks_http(), "an untagged blocker is no job"),
    ],
)
def test_what_is_never_preempted(smp, why):
    decision = Run(policy(preempt_after=1.0)).step(smp, T0)
    assert preempts(decision) == [], why


# -- configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"min_dwell_seconds": -1}, "min_dwell_seconds"),
        ({"min_dwell_seconds": float("nan")}, "min_dwell_seconds"),
        ({"fallback_escalate_cycles": 0}, "fallback_escalate_cycles"),
        ({"max_pause_seconds": 0}, "max_pause_seconds"),
        ({"max_pause_seconds": 4000}, "below pause_window_seconds"),
        ({"trickle_seconds": -5}, "trickle_seconds"),
        ({"resume_step_seconds": "20"}, "resume_step_seconds"),
        ({"resume_jitter": 1.5}, "resume_jitter"),
        ({"demand_min_rate": 0}, "demand_min_rate"),
        ({"demand_window_seconds": -1}, "demand_window_seconds"),
        ({"demand_hold_fraction": 1.5}, "demand_hold_fraction"),
        ({"min_hold_seconds": 400}, "max_hold_seconds (300.0) is below"),
        ({"drain_lead_seconds": 7200}, "drain_lead_seconds must be at most"),
        ({"drain_lead_max_seconds": 0}, "drain_lead_max_seconds"),
        ({"pre_window_drain": "yes"}, "pre_window_drain"),
        ({"preempt_after": -1}, "preempt_after"),
        ({"demand_gate": 1}, "demand_gate must be true or false"),
        ({"protect_starving": "on"}, "protect_starving must be true or false"),
        ({"demand_gate_max_wait": 0}, "demand_gate_max_wait must be positive"),
        (
            {"normal": Thresholds(elevated_exit_age=2.0)},
            "normal.elevated_exit_age",
        ),
        ({"normal": Thresholds(severe_exit_count=9)}, "normal.severe_exit_count"),
        (
            {"normal": Thresholds(severe_enter_age=0.4, severe_exit_age=0.3)},
            "normal.severe_enter_age (0.4) is below",
        ),
        ({"normal": Thresholds(elevated_enter_count=0)}, "at least 1"),
        ({"normal": Thresholds(elevated_enter_count=1.5)}, "integer"),
        (
            {"protected": Thresholds(elevated_enter_age=2.0, severe_enter_age=20)},
            "protected.elevated_enter_age",
        ),
    ],
)
def test_config_validation_rejects_nonsense(config, message):
    cfg = PolicyConfig(**config)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        cfg.validate()
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError):
        Policy(cfg, random.Random(0))


def test_default_config_is_valid():
    PolicyConfig().validate()
    assert PolicyConfig().demand_gate is True
    assert PolicyConfig().protected == PROTECTED_THRESHOLDS
