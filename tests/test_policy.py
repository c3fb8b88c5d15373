"""The governor's decision core, fed hand-built samples and fake times."""

import json
import random
import re
from itertools import pairwise

import pytest

from peak_governor.attribution import OTHER, Role, role_label
from peak_governor.model import (
    CALM,
    ELEVATED,
    SEVERE,
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
)

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


def sample(*waiters, blockers=()):
    return Sample(
        database="peak",
        taken_at=0.0,
        waiters=tuple(waiters),
        blockers={b.pid: b for b in blockers},
        deadlocks_total=0,
        deadlocks_delta=0,
        duration_seconds=0.01,
    )


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
    return Policy(PolicyConfig(**overrides), random.Random(42))


class Run:
    """A policy plus a fake actuator that applies its actions."""

    def __init__(self, pol=None, channels=CHANNELS, held=None):
        self.policy = pol or policy()
        self.channels = channels
        self.held = dict(held or {})
        self.decisions = []

    def step(self, smp, now, protected=True, peak_mode=True, apply=True):
        decision = self.policy.decide(
            smp, self.channels, dict(self.held), now, protected, peak_mode
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
        wait(http(10), 0.1, 20),
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
    assert Run().step(many, T0).level == SEVERE  # 3 waiters >= 0.25 s
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


def _resume(seed):
    channels = ("root.bulk", "root.operational", "root.bulk.imports", "root.background")
    run = Run(Policy(PolicyConfig(), random.Random(seed)), held=_held(*channels))
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
    run = Run(held=_held("root.operational", "root.background", "root.bulk"))
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
    run = Run()
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
    assert PolicyConfig().protected == PROTECTED_THRESHOLDS
