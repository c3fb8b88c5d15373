"""Profiles: the one trade-off an operator chooses.

``balanced`` (the default)
    Leases for waves of protected work (two requests waiting within
    ``demand_window_seconds``, or a conflict pattern); a lone request that
    waits a fraction of a second is left alone: pausing a channel for a
    minimum hold would cost the bulk work more than it saves that request.
    Never preempts.
``pickers_first``
    As ``balanced`` for waves, and a lone protected wait is answered too:
    the lower-class job blocking it for ``preempt_after`` seconds is
    preempted (its transaction rolled back, queue_job runs it again later;
    see :mod:`.preemption`).  The picker stops waiting; the preempted job
    loses the work it had done, at most once per job.
``observe``
    Computes levels and explanations and never acts: no lease, no
    preemption, no drain (leases still held when it is chosen are wound
    down).  For a first week in production, or an incident review.

A profile sets defaults; an expert setting given explicitly (flag, env,
Odoo parameter) wins over its profile's value.
"""

import dataclasses

from .config import PROFILE_NAMES, PolicyConfig

#: What each profile changes from the defaults (the balanced profile).
PROFILES: dict[str, dict] = {
    "balanced": {},
    # As soon as the wait counts (the protected elevated age, 0.1 s): a
    # picker whose wait outlives the blocking job's commit pays Odoo's
    # retry on top (a serialization failure, then a sleep of up to 2 s), so
    # a late preemption saves little.  Each job is preempted at most once.
    "pickers_first": {"preempt_after": 0.1},
    "observe": {},
}

#: One line per profile, for ``--help`` and Odoo Settings.
SUMMARIES = {
    "balanced": "lease low-priority channels for waves of waiting work; "
    "a lone wait is left alone",
    "pickers_first": "also preempt the low-priority job a lone picker "
    "waits on (the job runs again later)",
    "observe": "measure and explain, never pause or preempt anything",
}


def with_profile(config: PolicyConfig, name: str) -> PolicyConfig:
    """``config`` with profile ``name`` and its defaults (ValueError if
    unknown).  Apply it before explicit settings, which win."""
    if name not in PROFILES:
        raise ValueError(
            f"profile must be one of {', '.join(PROFILE_NAMES)}, got {name!r}"
        )
    return dataclasses.replace(config, profile=name, **PROFILES[name])
