"""The rules of time-bound peak access grants, free of any ORM.

A grant gives a user groups from ``start`` to ``end``. The Odoo model
(``peak.access.grant``), its cron and the tests call these functions, so the
rule is written once.

Rules
-----
* A request names an approver other than the requester (and other than the
  user who gets the access), at least one group and a reason; its end is after
  its start and, when it is asked for, in the future.
* A grant adds only the groups the user lacks: ending it removes what *it*
  added, never a group the user had before.
* Ending a grant keeps the groups another still-active grant of the same user
  wants; that grant takes them over, so they go when it ends.
* Due at ``now``: an approved grant starts when ``start <= now < end``; an
  approved or active grant ends when ``end <= now`` (one never started ends
  without adding anything). A late run only does what is still due.
* Expiring soon: active and ending within :data:`EXPIRING_SOON`.

Every datetime is timezone-aware UTC; naive values are refused.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = [
    "DIGEST_HORIZON",
    "EXPIRING_SOON",
    "Grant",
    "GrantError",
    "Handover",
    "digest",
    "due_to_end",
    "due_to_start",
    "expiring_soon",
    "groups_to_add",
    "groups_to_remove",
    "request_error",
]

#: "Expiring soon" in the list, the metrics and the readiness report.
EXPIRING_SOON = timedelta(hours=24)
#: What the weekly digest looks ahead and back.
DIGEST_HORIZON = timedelta(days=7)


class GrantError(ValueError):
    """Invalid input; the message is user-facing."""


def _aware(value: object, label: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise GrantError(f"{label} must be a timezone-aware datetime, got {value!r}.")
    return value


def _fmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Grant:
    """An access grant, as far as the rules need it. ``wants``: the groups it
    asks for, with the groups they imply."""

    id: int
    user_id: int
    state: str
    start: datetime
    end: datetime
    wants: frozenset[int] = frozenset()
    added: frozenset[int] = frozenset()
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Handover:
    """What ending a grant does to groups: ``remove`` from the user, and
    ``keep`` (grant id -> groups) passed to the other active grants."""

    remove: frozenset[int]
    keep: dict[int, frozenset[int]] = field(default_factory=dict)


def request_error(
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    reason: str | None,
    group_ids: Iterable[int],
    requester_id: int,
    approver_id: int | None,
    user_id: int | None,
    future_end: bool = True,
) -> str | None:
    """Why this request cannot be saved, or None: one message, the first
    rule broken."""
    _aware(now, "now")
    if not user_id:
        return "Name the user who gets the access."
    if not approver_id:
        return (
            "Name an approver: a member of the “Peak change approver” group "
            "other than you."
        )
    if approver_id == requester_id:
        return (
            "You cannot approve your own access grant: name another member of "
            "the “Peak change approver” group."
        )
    if approver_id == user_id:
        return (
            "The approver cannot approve access for themselves: name another "
            "member of the “Peak change approver” group."
        )
    if not set(group_ids):
        return "Name the groups the grant gives."
    if not (reason or "").strip():
        return "Say why the access is needed."
    if start is None or end is None:
        return "Give the grant a start and an end."
    _aware(start, "start")
    _aware(end, "end")
    if end <= start:
        return (
            f"The grant would end at {_fmt(end)}, not after its start "
            f"({_fmt(start)}): give it an end after its start."
        )
    if future_end and end <= now:
        return (
            f"The grant would end at {_fmt(end)}, which is not in the future: "
            "give it an end after now."
        )
    return None


def groups_to_add(requested: Iterable[int], held: Iterable[int]) -> frozenset[int]:
    """The requested groups the user lacks: the only ones a grant adds."""
    return frozenset(requested) - frozenset(held)


def groups_to_remove(ending: Grant, others: Iterable[Grant]) -> Handover:
    """What ending ``ending`` removes: what it added, except the groups
    another active grant of the same user wants (that grant keeps them)."""
    keep: dict[int, frozenset[int]] = {}
    kept: set[int] = set()
    for other in others:
        if other.id == ending.id or other.user_id != ending.user_id:
            continue
        if other.state != "active":
            continue
        shared = ending.added & other.wants
        if shared:
            keep[other.id] = frozenset(shared)
            kept |= shared
    return Handover(frozenset(ending.added - kept), keep)


def due_to_start(grants: Iterable[Grant], now: datetime) -> list[int]:
    """Ids of approved grants whose period has begun and not yet ended."""
    _aware(now, "now")
    return [g.id for g in grants if g.state == "approved" and g.start <= now < g.end]


def due_to_end(grants: Iterable[Grant], now: datetime) -> list[int]:
    """Ids of approved or active grants whose end has come."""
    _aware(now, "now")
    return [g.id for g in grants if g.state in ("approved", "active") and g.end <= now]


def expiring_soon(
    grants: Iterable[Grant], now: datetime, within: timedelta = EXPIRING_SOON
) -> list[int]:
    """Ids of active grants ending within ``within`` of ``now``."""
    _aware(now, "now")
    return [g.id for g in grants if g.state == "active" and now < g.end <= now + within]


def digest(
    grants: Iterable[Grant], now: datetime, horizon: timedelta = DIGEST_HORIZON
) -> dict[str, list[int]]:
    """The weekly digest's sections (ids, by end): pending requests, active
    grants, grants ending within ``horizon``, grants ended in the past
    ``horizon``. All empty: nothing to send."""
    _aware(now, "now")
    grants = sorted(grants, key=lambda g: (g.end, g.id))
    return {
        "requested": [g.id for g in grants if g.state == "requested"],
        "active": [g.id for g in grants if g.state == "active"],
        "ending": [
            g.id
            for g in grants
            if g.state in ("approved", "active") and now < g.end <= now + horizon
        ],
        "ended": [
            g.id
            for g in grants
            if g.state in ("ended", "revoked")
            and g.ended_at is not None
            and now - horizon <= g.ended_at <= now
        ],
    }
