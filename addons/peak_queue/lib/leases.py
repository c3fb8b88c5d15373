"""Pause leases inside queue_job's jobrunner, without forking queue_job.

The jobrunner keeps one ``Channel`` object per channel and asks
``has_capacity()`` before starting a job. A lease is a deadline on that object
(``_peak_lease_until``, in the runner's own ``time.time()`` seconds): until then
the channel has no capacity, whatever its configured capacity (0 included,
which queue_job reads as *unlimited*). Past the deadline the check simply stops
holding: nothing has to happen for a dead governor's lease to end.

Two more things make it prompt and cheap:

- ``get_wakeup_time`` reports the deadline, so the runner's ``select()`` wakes
  up when a lease ends instead of after its 60 s idle timeout;
- a lease change arrives as ``NOTIFY peak_queue_lease`` and refreshes the
  deadlines from ``peak_queue_active_leases()``: one query returning one row per
  leased channel, where queue_job's own ``reload`` would re-read every job that
  is not done.

No ORM here: this module is applied to queue_job's classes at ``post_load``
(see ``jobrunner_patch.py``) and tested without a database.
"""

import logging
import time

_logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "peak_queue_lease"
ACTIVE_LEASES_SQL = (
    "SELECT channel, remaining_seconds, trickle FROM peak_queue_active_leases()"
)
#: Jobs a trickling channel may run at once (the governor's starvation guard).
TRICKLE_CAPACITY = 1
HAS_CONTRACT_SQL = "SELECT to_regproc('peak_queue_active_leases') IS NOT NULL"


def lease_deadline(channel) -> float:
    return getattr(channel, "_peak_lease_until", 0.0)


def is_leased(channel, now: float | None = None) -> bool:
    until = lease_deadline(channel)
    return bool(until) and (time.time() if now is None else now) < until


def apply_leases(
    channels_by_name: dict,
    remaining_by_name: dict,
    now: float,
    trickling: frozenset = frozenset(),
) -> list:
    """Set every channel's lease deadline from ``{name: seconds left}``.

    Channels in ``trickling`` run one job at a time instead of none. Channels
    absent from the mapping lose their lease. Returns the names of leased
    channels that the runner does not know (logged by the caller).
    """
    for name, channel in channels_by_name.items():
        remaining = remaining_by_name.get(name)
        channel._peak_lease_until = now + remaining if remaining else 0.0
        channel._peak_lease_trickle = name in trickling
    return sorted(set(remaining_by_name) - set(channels_by_name))


def patch_channel(channel_cls) -> None:
    """Teach queue_job's ``Channel`` about leases (idempotent)."""
    if getattr(channel_cls, "_peak_leases_patched", False):
        return
    original_has_capacity = channel_cls.has_capacity
    original_get_wakeup_time = channel_cls.get_wakeup_time

    def has_capacity(self):
        if is_leased(self):
            if not self._peak_lease_trickle:
                return False
            if len(self._running) >= TRICKLE_CAPACITY:
                return False
        return original_has_capacity(self)

    def get_wakeup_time(self, wakeup_time=0):
        until = lease_deadline(self)
        if until and time.time() < until and not self._peak_lease_trickle:
            # Jobs below a leased channel cannot start before it ends either.
            return min(wakeup_time, until) if wakeup_time else until
        return original_get_wakeup_time(self, wakeup_time)

    channel_cls._peak_lease_until = 0.0
    channel_cls._peak_lease_trickle = False
    channel_cls.has_capacity = has_capacity
    channel_cls.get_wakeup_time = get_wakeup_time
    channel_cls._peak_leases_patched = True
