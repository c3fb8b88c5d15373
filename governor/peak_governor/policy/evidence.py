"""What every action carries: the reason and a JSON evidence dict.

Every action has a ``reason``: ``blame`` or ``fallback`` for a new lease,
``renew`` for a held one (evidence keeps ``first_reason`` and this cycle's
blame), ``hold`` for one kept while calm (evidence ``hold``: why),
``pre_window_drain`` for a drain, ``starvation_guard`` when a lease switches
to (or starts as) a trickle, ``calm``, ``peak_off`` or ``unleasable`` for a
release, ``preempt`` for a preemption.  The evidence: level, thresholds, at
most :data:`MAX_LISTED` waiters and root blockers, protected ``demand``,
``conflicts`` and the ``backoff`` state, plus what the reason needs.
"""

import math
from dataclasses import asdict, dataclass

from ..model import LeaseState, Sample, Waiter
from .config import Thresholds
from .conflicts import ConflictView
from .table import PROTECTED_RANK, Table

#: Waiters and blockers listed in evidence (the DB caps evidence at 64 KiB).
MAX_LISTED = 20


def num(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


@dataclass
class Cycle:
    """What one decide() call works with."""

    sample: Sample
    table: Table
    held: dict[str, LeaseState]
    now: float
    relevant: list[Waiter]
    conflicts: ConflictView
    evidence: dict


def build(
    sample: Sample,
    roots: dict,
    level: str,
    previous: str,
    thresholds: Thresholds,
    protected: bool,
) -> dict:
    """The evidence shared by every action of one cycle (``demand``,
    ``backoff`` and ``conflicts`` are added by their rules)."""
    waiters = sorted(
        sample.waiters,
        key=lambda w: (w.backend.role_label not in PROTECTED_RANK, -w.wait_seconds),
    )
    blockers = []
    for pid, backend in sorted(roots.items())[:MAX_LISTED]:
        role = backend.role if backend else None
        blockers.append(
            {
                "pid": pid,
                "role": backend.role_label if backend else "unknown",
                "channel": role.channel if role else None,
                "state": backend.state if backend else None,
            }
        )
    return {
        "database": sample.database,
        "level": level,
        "previous_level": previous,
        "protected": protected,
        "thresholds": asdict(thresholds),
        "waiters_total": len(sample.waiters),
        "waiters": [
            {
                "pid": w.backend.pid,
                "role": w.backend.role_label,
                "wait_seconds": num(w.wait_seconds),
                "blocker_pids": list(w.blocker_pids[:MAX_LISTED]),
            }
            for w in waiters[:MAX_LISTED]
        ],
        "root_blockers_total": len(roots),
        "root_blockers": blockers,
        "deadlocks_delta": sample.deadlocks_delta,
    }
