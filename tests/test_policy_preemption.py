"""Preemption of the job a protected request waits on (policy/preemption.py)."""

import json
import random

import pytest
from policy_factories import (
    T0,
    Run,
    bulk_blocks_http,
    http,
    job,
    leased,
    policy,
    sample,
    untagged_blocks_http,
    wait,
)

from peak_governor.model import (
    ELEVATED,
    SEVERE,
    Backend,
)
from peak_governor.policy import (
    Policy,
    PolicyConfig,
    with_profile,
)

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


def test_a_job_idle_in_its_transaction_is_preempted_too():
    # Odoo jobs hold their rows between statements: the contract ends such
    # a session (a cancel would be ignored), the policy asks the same way.
    idle = Backend(
        20, job(20, "bulk", "root.bulk").role, "bulk", "idle in transaction", 3.0
    )
    decision = Run(policy(preempt_after=1.0)).step(
        sample(wait(http(10), 1.5, 20), blockers=[idle]), T0
    )
    [preempt] = preempts(decision)
    assert preempt.evidence["preempted"]["session_state"] == "idle in transaction"


def test_pickers_first_preempts_for_a_lone_wait_without_leasing():
    run = Run(Policy(with_profile(PolicyConfig(), "pickers_first"), random.Random(1)))
    decision = run.step(bulk_blocks_http(0.6), T0)
    assert decision.level == ELEVATED
    assert [a.pid for a in preempts(decision)] == [20]
    assert leased(decision) == {}, "a lone wait takes no lease: the gate is closed"
    assert "no new lease" in decision.explanation


@pytest.mark.parametrize(
    ("smp", "why"),
    [
        (bulk_blocks_http(0.8), "not waited long enough"),
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
