"""The channel table as the lease rules see it, for one cycle.

Leasable
    Exists in the table, not ``root``, nothing critical or pinned at or below
    it (descendants: names starting with ``name + "."``), as the database
    enforces; for blame and fallback also nothing at or below it as important
    as the waiter.  Like the database, a pin protects the channel and its
    parents, not its children.
Resolving a job's tag
    A job's channel tag resolves to the channel itself or, for a sub-channel
    created on the fly, its closest existing ancestor; a truncated tag (only
    the tail is known) resolves to a single match or nothing.
"""

from ..attribution import Role
from ..model import ChannelInfo

ROOT = "root"
#: Importance of a class, 0 = most important.  Unknown classes count as
#: critical so that they are never paused.
CLASS_RANK = {"critical": 0, "operational": 1, "background": 2, "bulk": 3}
#: Importance of the work a waiter does (same scale as :data:`CLASS_RANK`).
PROTECTED_RANK = {"interactive": 0, "critical": 0, "operational": 1}


def _lineage(name: str):
    """``name`` then its ancestors by name, closest first."""
    while True:
        yield name
        if "." not in name:
            return
        name = name.rsplit(".", 1)[0]


def _sanitise(name: str) -> str:
    # As the attribution tag does (docs/attribution.md, "Sanitising").
    return "".join(
        c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name
    )


class Table:
    """The channel table with what the lease rules need, for one cycle."""

    def __init__(self, channels: dict[str, ChannelInfo]):
        self.info = channels
        # Most important class at or below each channel, and pinned sub-trees.
        self.top_rank: dict[str, int] = {}
        self.pinned: set[str] = set()
        self.paused: set[str] = set()
        for name, channel in channels.items():
            rank = CLASS_RANK.get(channel.priority_class, 0)
            for up in _lineage(name):
                if up in channels:
                    self.top_rank[up] = min(self.top_rank.get(up, rank), rank)
                    if channel.pinned:
                        self.pinned.add(up)
                    if channels[up].paused:
                        self.paused.add(name)
        by_sanitised: dict[str, list[str]] = {}
        for name in channels:
            by_sanitised.setdefault(_sanitise(name), []).append(name)
        self.sanitised = {k: v[0] for k, v in by_sanitised.items() if len(v) == 1}

    def rank(self, name: str) -> int:
        channel = self.info.get(name)
        return CLASS_RANK.get(channel.priority_class, 0) if channel else 0

    def leasable(self, name: str, below_rank: int = 0) -> bool:
        """The DB accepts a lease, and all below is less important than
        ``below_rank``."""
        return (
            name in self.info
            and name != ROOT
            and "." in name
            and name not in self.pinned
            and self.top_rank[name] > below_rank
        )

    def resolve(self, role: Role) -> str | None:
        """The closest existing channel of a job's tag, or None."""
        tag = role.channel
        if not tag:
            return None
        if role.channel_truncated:
            # Only the tail is known: accept a single match, never guess.
            found = [n for n in self.info if _sanitise(n).endswith(tag)]
            return found[0] if len(found) == 1 else None
        for up in _lineage(tag):
            if up in self.info:
                return up
            if up in self.sanitised:
                return self.sanitised[up]
        return None

    def fallback(self, cls: str) -> list[str]:
        """Largest leasable sub-trees whose classes are ``cls`` or less
        important, not already paused by a human."""
        floor = CLASS_RANK[cls]
        ok = {
            n
            for n in self.info
            if self.leasable(n) and self.top_rank[n] >= floor and n not in self.paused
        }
        return sorted(
            n for n in ok if not any(up in ok for up in _lineage(n) if up != n)
        )
