"""A new leader resumes where the last one stopped: it adopts the leases a
governor left and restores the policy's episode from them.

A governor that stops (SIGTERM) hands over: it resigns leadership and keeps
its leases, which expire by themselves within the lease TTL. One that dies
leaves them the same way. The next leader, at its first cycle as leader,
re-leases every channel a predecessor held under its own holder *before*
releasing the predecessor's lease (the channel never runs in between), and
seeds the policy (``policy/recovery.py``) from the evidence those leases
carry: the episode's age, the relapse count, each channel's first reason.
Leases a person took (Odoo's Channels view) carry no policy evidence and are
never touched.
"""

import json
import logging
from dataclasses import dataclass

import psycopg

from . import contract
from .policy import Policy, restore

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """One active lease a governor (this one or another) took."""

    channel: str
    holder: str
    reason: str
    evidence: dict
    trickle: bool
    written_ago: float  # seconds since the lease row was last written

    @property
    def episode_age(self) -> float:
        """How long the episode it belongs to has run, now."""
        backoff = self.evidence.get("backoff") or {}
        return float(backoff.get("episode_seconds") or 0.0) + self.written_ago

    @property
    def first_reason(self) -> str:
        return self.evidence.get("first_reason") or self.reason


def _evidence(raw) -> dict:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


def governor_leases(conn) -> list[Found]:
    with conn.cursor() as cur:
        cur.execute(contract.GOVERNOR_LEASES_SQL)
        return [
            Found(
                channel, holder, reason, _evidence(evidence), bool(trickle), float(ago)
            )
            for channel, holder, reason, evidence, trickle, ago in cur.fetchall()
        ]


def _last_release(conn) -> tuple[int, float | None]:
    """(relapses, seconds since everything was released or None)."""
    with conn.cursor() as cur:
        cur.execute(contract.LAST_GOVERNOR_EVENT_SQL)
        row = cur.fetchone()
    if row is None:
        return 0, None
    action, evidence, ago = row
    relapses = int((_evidence(evidence).get("backoff") or {}).get("relapses") or 0)
    return relapses, float(ago) if action == "released" else None


def take_over(conn, actuator, policy: Policy, now: float) -> int:
    """Adopt what predecessors hold and restore ``policy``; returns how many
    leases were adopted.  Called once, when this governor first leads."""
    found = governor_leases(conn)
    adopted: dict[str, tuple[float, str]] = {}
    relapses = 0
    for lease in found:
        if lease.holder != actuator.holder:
            try:
                actuator.adopt(conn, lease)
            except psycopg.errors.InvalidParameterValue as exc:
                # The channel became unleasable (pinned): it runs again.
                _logger.warning(
                    "could not adopt the lease on %s from %s: %s",
                    lease.channel,
                    lease.holder,
                    str(exc).strip(),
                )
                continue
        adopted[lease.channel] = (lease.episode_age, lease.first_reason)
        backoff = lease.evidence.get("backoff") or {}
        relapses = max(relapses, int(backoff.get("relapses") or 0))
    released_ago = None
    if not adopted:
        relapses, released_ago = _last_release(conn)
    restore(policy, now, adopted, relapses, released_ago)
    others = sorted({f.holder for f in found if f.holder != actuator.holder})
    if adopted or released_ago is not None:
        _logger.info(
            "resuming: %s lease(s) held%s, relapses %s",
            len(adopted),
            f" (adopted from {', '.join(others)})" if others else "",
            relapses,
            extra={
                "event": "take_over",
                "database": actuator.database,
                "channels": sorted(adopted),
                "from": others,
            },
        )
    return len(adopted)
