"""Rule: a restart or a failover resumes the episode, it does not start one.

A governor that stops (SIGTERM) or dies mid-wave leaves its leases in place:
they expire by themselves within the lease TTL.  The next leader adopts them
(the daemon re-leases each under its own holder before releasing the old
one, so the channel never runs in between) and calls :func:`restore` with
what the activity table says:

- the channels it adopted, how long ago each was first leased and why: the
  episode started at the oldest, so the minimum hold counts from there;
- the relapse count in force (the ``backoff`` evidence of the newest
  governor lease or release), so the backoff goes on doubling;
- when the last release of everything happened, if no lease was left, so a
  lease right after the restart counts as the relapse it is.

Demand is taken as present at the restart (the wave that was held for is
assumed to go on): a hold then ends by the usual quiet time, never at once.
"""

from .core import Policy


def restore(
    policy: Policy,
    now: float,
    adopted: dict[str, tuple[float, str]],
    relapses: int,
    released_ago: float | None = None,
) -> None:
    """Seed ``policy`` from a predecessor's state.  ``adopted`` maps each
    channel to (seconds since it was first leased, its first reason)."""
    episode = policy.episode
    episode.relapses = max(0, int(relapses))
    if adopted:
        oldest = max(max(0.0, age) for age, _reason in adopted.values())
        episode.held_since = now - oldest
        policy.demand.last_seen_at = now
        for channel, (_age, reason) in adopted.items():
            policy.leases.first_reason[channel] = reason or "unknown"
    elif released_ago is not None:
        episode.released_at = now - max(0.0, released_ago)
