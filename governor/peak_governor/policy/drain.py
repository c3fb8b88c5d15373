"""Rule: the pre-window drain, so that a window opens on quiet tables.

``drain`` = ``auto`` (the default), ``off`` or a lead in seconds.  The lead
before a protected interval opens (``next_window_at``): the configured
seconds, or with ``auto`` 1.5 x the p95 duration of recent background and
bulk jobs + 1 s (at least 2 s, 30 s without history), capped at
``drain_lead_max_seconds``.  Within the lead, every leasable background and
bulk sub-tree not paused by a human is leased (reason ``pre_window_drain``,
evidence ``drain``), on top of what contention asks, so that the
transactions running finish before the first picker arrives.  Holding and
releasing drained channels: :mod:`.episode`.  Even with ``balanced``'s
demand gate, a drain needs no wave: the window is the plan.
"""

import math

from ..model import Action
from .config import PolicyConfig
from .episode import Episode
from .evidence import Cycle, num
from .leases import Leases

DRAIN_LEAD_FACTOR = 1.5
DRAIN_LEAD_FLOOR_S = 2.0
DRAIN_LEAD_UNKNOWN_S = 30.0


def drain_lead(config: PolicyConfig, job_p95_seconds: float | None) -> tuple:
    """(lead seconds, where it comes from) of the pre-window drain; 0 = off."""
    configured = config.drain_lead_setting()
    if configured == 0:
        return 0.0, "off"
    if configured is not None:
        return configured, "configured"
    cap = config.drain_lead_max_seconds
    if job_p95_seconds is None or not math.isfinite(job_p95_seconds):
        return min(DRAIN_LEAD_UNKNOWN_S, cap), "default, no recent job"
    derived = max(job_p95_seconds * DRAIN_LEAD_FACTOR + 1.0, DRAIN_LEAD_FLOOR_S)
    source = f"{DRAIN_LEAD_FACTOR:g} x p95 of recent bulk/background jobs"
    if derived > cap:
        return cap, source + f" ({derived:.0f} s), capped"
    return derived, source


def plan(config: PolicyConfig, now: float, window_at, job_p95) -> dict | None:
    """The drain's evidence when a window opens within the lead, else None."""
    if window_at is None:
        return None
    lead, source = drain_lead(config, job_p95)
    if not 0 < window_at - now <= lead:
        return None
    return {
        "window_opens_at": num(window_at),
        "seconds_to_window": num(window_at - now),
        "lead_seconds": num(lead),
        "lead_source": source,
        "job_p95_seconds": None if job_p95 is None else num(job_p95),
    }


def add(
    cycle: Cycle,
    actions: list[Action],
    what: str,
    drain: dict,
    leases: Leases,
    episode: Episode,
) -> tuple[list[Action], str]:
    """Lease every background and bulk sub-tree for the coming window."""
    leased = {a.channel for a in actions if a.kind == "lease"}
    subtrees = [c for c in cycle.table.fallback("background") if c not in leased]
    new = [c for c in subtrees if c not in cycle.held]
    if (new or leased) and episode.held_since is None:
        episode.start_planned(cycle.now)
        cycle.evidence["backoff"] = episode.evidence(cycle.now)
    for channel in subtrees:
        if channel in cycle.held:
            actions.append(leases.keep(cycle, channel, "renew", {"drain": drain}))
        else:
            actions.append(
                leases.new(cycle, channel, "pre_window_drain", {"drain": drain})
            )
    episode.drained_window = drain["window_opens_at"]
    head = (f"draining {', '.join(new)}" if new else "drained channels held") + (
        f" before the window opening in {drain['seconds_to_window']:.0f} s "
        f"(lead {drain['lead_seconds']:.0f} s: {drain['lead_source']})"
    )
    return actions, f"{head}; {what}"
