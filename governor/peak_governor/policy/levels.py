"""Rule: the contention level, calm, elevated or severe.

Computed from the protected waiters' wait ages (each conflict counts as one
waiter, :mod:`.conflicts`) against the :class:`~.config.Thresholds` in force:
the protected ones inside a fulfillment window, the normal ones elsewhere.
Stepping up is immediate; stepping down goes one level at a time, each step
only after the current level's exit condition failed for
``min_dwell_seconds`` in a row, so an oscillating stream does not flap.
"""

from ..model import CALM, ELEVATED, LEVELS, SEVERE
from .config import Thresholds


class Level:
    """The current level and how long its exit condition has failed."""

    def __init__(self, min_dwell_seconds: float):
        self.min_dwell = min_dwell_seconds
        self.current = CALM
        self._below_since: float | None = None

    def step(self, ages: list[float], th: Thresholds, now: float) -> None:
        def count(age: float) -> int:
            return sum(1 for a in ages if a >= age)

        severe_stays = self.current == SEVERE and (
            count(th.elevated_exit_age) >= th.severe_exit_count
            or count(th.severe_exit_age) >= 1
        )
        severe_enters = (
            count(th.elevated_enter_age) >= th.severe_enter_count
            or count(th.severe_enter_age) >= 1
        )
        elevated_stays = (
            self.current != CALM
            and count(th.elevated_exit_age) >= th.elevated_exit_count
        )
        elevated_enters = count(th.elevated_enter_age) >= th.elevated_enter_count
        if severe_stays or severe_enters:
            raw = LEVELS.index(SEVERE)
        elif elevated_stays or elevated_enters:
            raw = LEVELS.index(ELEVATED)
        else:
            raw = LEVELS.index(CALM)
        current = LEVELS.index(self.current)
        if raw > current:  # up at once
            self.current = LEVELS[raw]
            self._below_since = None
        elif raw < current:  # down one level per dwell
            if self._below_since is None:
                self._below_since = now
            if now - self._below_since >= self.min_dwell:
                self.current = LEVELS[current - 1]
                self._below_since = now if raw < current - 1 else None
        else:
            self._below_since = None
