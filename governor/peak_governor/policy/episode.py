"""Rule: the episode, from a first lease to releasing everything.

Demand-aware hold
    Waiters vanish once the blamed channel is paused, while the wave of
    protected work goes on: calm alone does not release.  While Peak mode is
    on and leases are held, a calm governor keeps renewing them (reason
    ``hold``) while protected demand persists (:mod:`.demand`), until it has
    been gone for ``release_quiet_seconds``, and at least
    ``min_hold_seconds`` after the episode's first lease.
Re-lease backoff
    A new lease within ``relapse_window_seconds`` of releasing everything is
    a relapse: the releasing was premature.  Each relapse doubles both the
    minimum hold and the quiet time required (capped at
    ``max_hold_seconds``), so a release/re-lease pair cannot recur faster
    than the doubling allows (at most 2 transitions per minute on average
    over any flapping run of 5 minutes or more); no relapse for
    ``relapse_window_seconds`` after a release, or the fulfillment window
    opening or closing, starts over.  Whatever opened the gate, a lease
    counts.
Drained windows
    Channels drained for a window (:mod:`.drain`) are held at least
    ``min_hold_seconds`` into it, then by demand as above, and released once
    calm when the window closes: its end is the plan.
"""

import math

from .config import PolicyConfig
from .demand import Demand
from .evidence import num

#: Each relapse multiplies the minimum hold and the quiet time by this.
HOLD_BACKOFF = 2.0


class Episode:
    def __init__(self, config: PolicyConfig, demand: Demand):
        self.config = config
        self.demand = demand
        self.held_since: float | None = None  # first lease of this episode
        self.released_at: float | None = None  # everything released then
        self.relapses = 0
        self.drained_window: float | None = None  # window start drained for
        self.window_closed_at: float | None = None  # last window's end seen
        self._was_protected: bool | None = None

    def see_window(self, protected: bool, now: float) -> None:
        """A window opening or closing starts the backoff over."""
        if self._was_protected is None:  # the first cycle: no change seen
            self._was_protected = protected
        elif protected != self._was_protected:
            self.relapses = 0
            if self._was_protected:
                self.window_closed_at = now
            self._was_protected = protected

    def backoff(self) -> tuple[float, float]:
        """(minimum hold, quiet time) after this many relapses."""
        factor = HOLD_BACKOFF**self.relapses
        cap = self.config.max_hold_seconds
        return (
            min(self.config.min_hold_seconds * factor, cap),
            min(self.config.release_quiet_seconds * factor, cap),
        )

    def start(self, now: float) -> None:
        """The first lease after everything was released."""
        if (
            self.released_at is not None
            and now - self.released_at <= self.config.relapse_window_seconds
        ):
            self.relapses += 1
        else:
            self.relapses = 0
        self.held_since = now
        self.demand.peak_rate = 0.0

    def start_planned(self, now: float) -> None:
        """A drain's first lease: planned, never a relapse."""
        if self.held_since is None:
            self.held_since = now
            self.demand.peak_rate = 0.0

    def end(self, now: float) -> None:
        self.held_since = None
        self.released_at = now
        self.demand.peak_rate = 0.0
        self.drained_window = None

    def hold_reason(self, held: bool, now: float) -> str:
        """Why calm does not release yet ("" when it may)."""
        if not held:
            return ""
        hold, quiet = self.backoff()
        opened = self.drained_window
        closed = self.window_closed_at
        if opened is not None and closed is not None and closed > opened:
            return ""  # the window drained for is over: so is the plan
        if opened is not None and now < opened + self.config.min_hold_seconds:
            return (
                f"drained for the window opened {max(0.0, now - opened):.0f} s"
                f" ago, held at least {self.config.min_hold_seconds:.0f} s into it"
            )
        if self.demand.persists:
            rate = self.demand.view["rate_per_second"]
            return f"protected demand persists ({rate:.1f}/s)"
        gone = now - (self.demand.last_seen_at or -math.inf)
        if gone < quiet:
            return f"protected demand gone {gone:.1f} s, waiting {quiet:.0f} s"
        held_for = now - (self.held_since or -math.inf)
        if held_for < hold:
            return (
                f"minimum hold {hold:.0f} s after {self.relapses} "
                f"relapse{'s' if self.relapses != 1 else ''}"
            )
        return ""

    def evidence(self, now: float) -> dict:
        """The backoff state, and how long the episode has run (a successor
        resumes from it: :mod:`.recovery`)."""
        hold, quiet = self.backoff()
        return {
            "relapses": self.relapses,
            "min_hold_seconds": num(hold),
            "quiet_seconds": num(quiet),
            "episode_seconds": (
                None if self.held_since is None else num(now - self.held_since)
            ),
        }
