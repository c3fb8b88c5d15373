"""Blame and the class fallback: which channel frees the waiters
(policy/blame.py, policy/fallback.py)."""

import json

import pytest
from policy_factories import (
    CHANNELS,
    QUIET,
    T0,
    Run,
    bulk_blocks_http,
    cron,
    http,
    job,
    leased,
    policy,
    sample,
    table,
    untagged,
    untagged_blocks_http,
    wait,
)

from peak_governor.model import (
    ELEVATED,
)
from peak_governor.policy import (
    PROTECTED_THRESHOLDS,
)

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
