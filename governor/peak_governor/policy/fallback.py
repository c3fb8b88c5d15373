"""Rule: the class fallback, for blockers blame cannot name.

Only for root blockers that are untagged/unknown or jobs whose channel cannot
be resolved to a leasable one: lease by class, ``bulk`` first, then
``background``, then ``operational``, one class more per
``fallback_escalate_cycles`` cycles that still need the fallback (a class
with nothing leasable is skipped at once); never a class as important as the
waiter.  A class is leased as its largest leasable sub-trees made only of
allowed classes, skipping channels a human already paused.  Calm, a hold or
a resume starts it over from ``bulk``.
"""

from .table import CLASS_RANK, Table

FALLBACK_ORDER = ("bulk", "background", "operational")


class Fallback:
    def __init__(self, escalate_cycles: int):
        self.escalate_cycles = escalate_cycles
        self.step = 0  # 1-based index in FALLBACK_ORDER, 0: none
        self.cycles = 0  # cycles needing the fallback at that step

    def reset(self) -> None:
        self.step = self.cycles = 0

    def choose(self, table: Table, need_rank: int | None) -> tuple[list[str], str]:
        """(channels, class) to lease for waiters of rank ``need_rank``."""
        if need_rank is None:
            return [], ""
        max_step = sum(1 for c in FALLBACK_ORDER if CLASS_RANK[c] > need_rank)
        if self.step == 0:
            self.step, self.cycles = 1, 0
        elif self.cycles >= self.escalate_cycles:
            self.step += 1
            self.cycles = 0
        self.cycles += 1
        self.step = min(self.step, len(FALLBACK_ORDER))
        step = min(self.step, max_step)
        found: list[str] = []
        while step <= max_step:
            found = table.fallback(FALLBACK_ORDER[step - 1])
            if found:
                break
            step += 1  # nothing leasable in that class: the next one now
        if not found:
            return [], ""
        if step > self.step:
            self.step, self.cycles = step, 1
        return found, FALLBACK_ORDER[step - 1]
