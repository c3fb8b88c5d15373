"""Lease and release actions, and what each lease was first taken for.

Renewal
    While the level is above calm every held channel is leased again each
    cycle (the actuator writes the renewal only now and then: the policy says
    what it wants held, not how often the database hears it).
Unleasable
    A held channel that stops being leasable (a human pinned it, or a
    critical channel appeared below it) is released at once.
"""

from ..model import Action, LeaseState
from .evidence import Cycle, num
from .starvation import Starvation


class Leases:
    def __init__(self, starvation: Starvation):
        self.starvation = starvation
        self.first_reason: dict[str, str] = {}

    def forget_released(self, held: dict[str, LeaseState]) -> None:
        for gone in set(self.first_reason) - set(held):
            del self.first_reason[gone]

    def first(self, channel: str) -> dict:
        return {"first_reason": self.first_reason.get(channel, "unknown")}

    def new(self, cycle: Cycle, channel: str, reason: str, extra: dict) -> Action:
        """A lease on a channel not held yet."""
        self.first_reason[channel] = reason
        return self.lease(cycle, channel, reason, extra)

    def lease(self, cycle: Cycle, channel: str, reason: str, extra: dict) -> Action:
        evidence = dict(cycle.evidence, **extra)
        info = cycle.table.info.get(channel)
        evidence["channel_class"] = info.priority_class if info else None
        trickle = self.starvation.trickle(channel, cycle.now)
        lease = cycle.held.get(channel)
        if trickle and not (lease and lease.trickle):  # the switch, not renewals
            evidence["paused_seconds_in_window"] = num(
                self.starvation.paused_seconds(channel, cycle.now)
            )
            evidence["trickle_until"] = num(self.starvation.trickle_until[channel])
            reason = "starvation_guard"
        return Action("lease", channel, reason, evidence, trickle=trickle)

    def keep(self, cycle: Cycle, channel: str, reason: str, extra=None) -> Action:
        """A held channel leased again (``renew`` or ``hold``)."""
        return self.lease(
            cycle, channel, reason, dict(self.first(channel), **(extra or {}))
        )

    @staticmethod
    def release(cycle: Cycle, channel: str, reason: str) -> Action:
        return Action("release", channel, reason, dict(cycle.evidence))

    def drop_unleasable(self, cycle: Cycle) -> list[Action]:
        """Release at once what the DB would now refuse to renew."""
        return [
            self.release(cycle, channel, "unleasable")
            for channel in sorted(cycle.held)
            if not cycle.table.leasable(channel)
        ]
