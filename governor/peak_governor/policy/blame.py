"""Rule: blame, which channel to pause for the protected work that waits.

Protected work
    Waiters whose role is ``interactive``, ``critical`` or ``operational``
    (order confirmation, picking, the jobs that move orders).  ``cron``,
    ``background``, ``bulk`` and ``other`` waiters never raise the level: a
    cron run is batch work that can wait, and low-priority work queuing behind
    itself is not what the governor protects.  Only protected waiters that
    waited at least ``elevated_exit_age`` are looked at for blame.
Root blockers
    Each relevant waiter's ``blocker_pids`` are followed through blockers that
    wait themselves (up to :data:`MAX_CHAIN_DEPTH`) to the root blockers.  A
    root blocker that is a job of strictly lower priority than the waiter gets
    its channel leased (resolved and leasable as :mod:`.table` says).
    Interactive requests, crons, critical jobs and peers (same or higher
    class) are known and spared: pausing another channel would not free their
    locks.  Untagged blockers, and jobs whose channel cannot be resolved to a
    leasable one, go to the class fallback (:mod:`.fallback`).
Conflicts
    Protected work that lost its transaction to a concurrent one has no
    blocker to follow: the suspects of :mod:`.conflicts` of a class below the
    work that lost are blamed with the same judgement, never the fallback.
"""

from dataclasses import dataclass, field

from ..attribution import KIND_JOB, KIND_OTHER
from ..model import Backend, Sample, Waiter
from .conflicts import ConflictView
from .evidence import MAX_LISTED
from .table import CLASS_RANK, PROTECTED_RANK, Table

#: Blockers that wait themselves are followed this deep to the root blocker.
MAX_CHAIN_DEPTH = 5


@dataclass
class Blame:
    """Who to pause for this sample's relevant waiters."""

    channels: dict[str, dict]  # channel -> {"waiter_pids", "blocker_pids"}
    fallback_rank: int | None  # most important waiter needing the fallback
    roots: dict[int, Backend | None]  # root blockers seen
    # blamed root blocker pid -> (its channel, longest wait it causes)
    blocking: dict[int, tuple[str, float]] = field(default_factory=dict)

    def without_new_leases(self) -> "Blame":
        """The same blockers, no channel or fallback to lease for them."""
        return Blame({}, None, self.roots, self.blocking)


def root_blockers(waiter: Waiter, waiting: dict[int, Waiter]) -> list[int]:
    """Blockers at the top of the chains above ``waiter`` (cycles cut)."""
    seen = {waiter.backend.pid}
    roots: list[int] = []

    def climb(pid: int, depth: int) -> None:
        upper = waiting.get(pid)
        above = [p for p in upper.blocker_pids if p not in seen] if upper else []
        if not above or depth >= MAX_CHAIN_DEPTH:
            if pid not in roots:
                roots.append(pid)
            return
        seen.update(above)
        for p in above:
            climb(p, depth + 1)

    first = [p for p in waiter.blocker_pids if p not in seen]
    seen.update(first)
    for pid in first:
        climb(pid, 1)
    return roots


def judge(backend: Backend | None, rank: int, table: Table) -> str | None:
    """Channel to blame, None for the fallback, "" to spare the blocker."""
    if backend is None or backend.role.kind == KIND_OTHER:
        return None
    role = backend.role
    if role.kind != KIND_JOB:
        return ""  # a request or a cron: no channel to pause
    if CLASS_RANK.get(role.priority_class, 0) <= rank:
        return ""  # critical or a peer: pausing would starve equals
    channel = table.resolve(role)
    if channel is not None and table.leasable(channel, below_rank=rank):
        return channel
    return None


def _entry(blame: Blame, channel: str) -> dict:
    return blame.channels.setdefault(channel, {"waiter_pids": [], "blocker_pids": []})


def _add(listed: list, value) -> None:
    if value not in listed and len(listed) < MAX_LISTED:
        listed.append(value)


def analyse(sample: Sample, table: Table, relevant: list[Waiter]) -> Blame:
    """Blame for the root blockers of the ``relevant`` waiters."""
    waiting = {w.backend.pid: w for w in sample.waiters}
    blame = Blame({}, None, {})
    for waiter in relevant:
        rank = PROTECTED_RANK[waiter.backend.role_label]
        for pid in root_blockers(waiter, waiting):
            backend = sample.blockers.get(pid)
            if backend is None and pid in waiting:
                backend = waiting[pid].backend
            blame.roots[pid] = backend
            channel = judge(backend, rank, table)
            if channel == "":
                continue  # known and spared
            if channel is None:
                if blame.fallback_rank is None or rank < blame.fallback_rank:
                    blame.fallback_rank = rank
                continue
            _c, longest = blame.blocking.get(pid, (channel, 0.0))
            blame.blocking[pid] = (channel, max(longest, waiter.wait_seconds))
            entry = _entry(blame, channel)
            _add(entry["waiter_pids"], waiter.backend.pid)
            _add(entry["blocker_pids"], pid)
    return blame


def add_conflicts(blame: Blame, table: Table, conflicts: ConflictView) -> None:
    """Blame the suspects of this sample's conflicts: jobs in a transaction
    lately, of a class below the work that lost."""
    if not conflicts.count:
        return
    rank = min(PROTECTED_RANK[cls] for cls in conflicts.new)
    for backend in conflicts.suspects:
        channel = judge(backend, rank, table)
        if not channel:
            continue  # spared, or untagged: a conflict is no fallback
        entry = _entry(blame, channel)
        _add(entry.setdefault("conflict_suspect_pids", []), backend.pid)
        entry["conflicts"] = dict(conflicts.new)
