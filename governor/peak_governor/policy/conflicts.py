"""Rule: conflicts, the contention real Odoo flows have instead of lock waits.

When an EDI import and a picker move the same best-seller, Odoo seldom makes
one *wait* for the other: stock quants are taken with ``FOR NO KEY UPDATE SKIP
LOCKED`` and updated under REPEATABLE READ, so the loser gets a serialization
failure, Odoo rolls its transaction back and retries it after a random sleep
of up to 2 s (then 4, 8, 16).  ``pg_locks`` shows nothing; the picker waits
all the same.  On ``make bench-real`` the governor saw 1 to 12 lock waits per
5-minute run while users slept 120-150 s in such retries (docs in
``bench/README.md``).  peak_queue counts these conflicts per protected class,
a request once however often Odoo retries it (contract v3); the sensor
reports the increments (``Sample.conflicts_delta``) and the jobs inside a
transaction (``Sample.busy_jobs``).

Suspects
    A conflict names no blocker: the winner has committed by the time the
    loser is counted.  The suspects are the jobs seen inside a transaction in
    this sample or the :data:`SUSPECT_MEMORY_S` before it; the policy blames
    those of a class strictly less important than the work that lost (the
    same judgement as a lock's root blocker).  Conflicts with no such suspect
    (pickers colliding with each other) are reported and change nothing:
    pausing a channel would not remove them.
Level
    Each conflict with such a suspect counts as one protected waiter of
    :data:`CONFLICT_AGE_S` in the cycle it is seen: Odoo's first retry sleeps
    1 s on average, what a 1 s lock wait costs.  Pickers colliding with each
    other do not raise it: a wave of them kept the level up, and so the
    leases held, for a dwell after its window had closed (``make bench``).
Demand gate
    One conflict is a coincidence; :data:`CONFLICT_WAVE` requests (or jobs)
    of protected work within :data:`CONFLICT_WINDOW_S` while lower-class jobs
    were running are a collision pattern (peers colliding count no more here
    than for the level), and open the gate
    (``demand.gate = "conflicts"``) like a wave of lock waits does.  A new
    lease is taken in a cycle that saw a new conflict; holding, renewing and
    releasing follow the usual rules.
"""

from collections import deque
from dataclasses import dataclass

from ..model import Backend, Sample
from .table import CLASS_RANK

#: What one conflict costs its request: Odoo's first retry sleeps U(0, 2 s).
CONFLICT_AGE_S = 1.0
#: Jobs seen inside a transaction this recently are suspects: the winner of a
#: conflict often commits between two samples.
SUSPECT_MEMORY_S = 5.0
#: A collision pattern: this many conflicts of protected work within the
#: window while suspects ran (the window covers one request's first three
#: retries, which sleep 1 + 2 + 4 s on average).
CONFLICT_WAVE = 2
CONFLICT_WINDOW_S = 10.0
#: Suspects listed in evidence.
MAX_LISTED = 20


@dataclass(frozen=True)
class ConflictView:
    """What the conflicts of one sample mean."""

    new: dict[str, int]  # protected class -> conflicts since the last sample
    answerable: int  # of those, conflicts with a suspect of a lower class
    in_window: int  # answerable conflicts within CONFLICT_WINDOW_S
    suspects: tuple[Backend, ...]  # jobs in a transaction lately, by pid
    wave: bool  # the demand gate opens

    @property
    def count(self) -> int:
        return sum(self.new.values())

    def ages(self) -> list[float]:
        """One protected waiter per new answerable conflict, for the level."""
        return [CONFLICT_AGE_S] * self.answerable

    def no_wave(self) -> str:
        """Why these conflicts alone take no new lease."""
        if not self.in_window:
            return "conflicts with no lower-class job running: nothing to pause"
        return (
            f"{self.in_window} conflict{'s' if self.in_window != 1 else ''} with "
            f"lower-class jobs running in the last {CONFLICT_WINDOW_S:g} s, "
            f"no wave (it takes {CONFLICT_WAVE}): no new lease"
        )

    def summary(self) -> str:
        return f"{self.count} conflict{'s' if self.count != 1 else ''}" + (
            f" ({self.in_window} with lower-class jobs running in the last "
            f"{CONFLICT_WINDOW_S:g} s)"
            if self.suspects
            else ", no job running"
        )

    def evidence(self) -> dict:
        return {
            "new": dict(self.new),
            "in_window": self.in_window,
            "window_seconds": CONFLICT_WINDOW_S,
            "wave": self.wave,
            "suspects": [
                {
                    "pid": b.pid,
                    "role": b.role_label,
                    "channel": b.role.channel,
                    "state": b.state,
                }
                for b in self.suspects[:MAX_LISTED]
            ],
        }


class Conflicts:
    """Remembers recent conflicts and suspects; one per database."""

    def __init__(self):
        self._events: deque[tuple[float, int]] = deque()  # (when, conflicts)
        self._suspects: dict[int, tuple[Backend, float]] = {}  # pid -> seen

    def observe(
        self, sample: Sample, now: float, protected: dict[str, int]
    ) -> ConflictView:
        """``protected``: the classes whose conflicts count, with their rank
        (the policy's :data:`~.table.PROTECTED_RANK`)."""
        for backend in sample.busy_jobs:
            self._suspects[backend.pid] = (backend, now)
        horizon = now - SUSPECT_MEMORY_S
        self._suspects = {
            pid: seen for pid, seen in self._suspects.items() if seen[1] >= horizon
        }
        suspects = tuple(b for b, _t in self._suspects.values())
        new = {
            cls: n
            for cls, n in sorted(sample.conflicts_delta.items())
            if cls in protected and n > 0
        }
        ranks = [CLASS_RANK.get(b.role.priority_class, -1) for b in suspects]
        answerable = sum(
            n for cls, n in new.items() if any(r > protected[cls] for r in ranks)
        )
        if answerable:
            self._events.append((now, answerable))
        while self._events and self._events[0][0] < now - CONFLICT_WINDOW_S:
            self._events.popleft()
        in_window = sum(n for _t, n in self._events)
        return ConflictView(
            new=new,
            answerable=answerable,
            in_window=in_window,
            suspects=tuple(sorted(suspects, key=lambda b: b.pid)),
            wave=in_window >= CONFLICT_WAVE,
        )
