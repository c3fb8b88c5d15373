"""Hand-built samples, channel tables and a fake actuator for the policy tests."""

import random

from peak_governor.attribution import OTHER, Role, role_label
from peak_governor.model import (
    Activity,
    Backend,
    ChannelInfo,
    LeaseState,
    Sample,
    Waiter,
)
from peak_governor.policy import (
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


def held_leases(*channels, now=T0):
    return {c: LeaseState(c, now) for c in channels}


def leased(decision):
    return {a.channel: a for a in decision.actions if a.kind == "lease"}


def released(decision):
    return [a.channel for a in decision.actions if a.kind == "release"]
