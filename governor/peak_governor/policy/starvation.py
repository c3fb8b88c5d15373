"""Rule: the starvation guard, so that no channel is paused forever.

Full-pause time per channel is accounted over a rolling
``pause_window_seconds``; past ``max_pause_seconds`` the channel is leased
with ``trickle=True`` (queue_job runs one job at a time) for
``trickle_seconds``, after which the debt is cleared and a full pause is
allowed again.
"""

from ..model import LeaseState
from .config import PolicyConfig


class Starvation:
    def __init__(self, config: PolicyConfig):
        self.config = config
        self.trickle_until: dict[str, float] = {}
        self._pauses: dict[str, list[list[float]]] = {}  # full-pause segments
        self._prev_now: float | None = None
        self._prev_full: set[str] = set()

    def account(self, held: dict[str, LeaseState], now: float) -> None:
        """Add the time since the last cycle to the channels fully paused
        then and now."""
        full = {c for c, lease in held.items() if not lease.trickle}
        prev = self._prev_now
        if prev is not None and now > prev:
            for channel in full & self._prev_full:
                segments = self._pauses.setdefault(channel, [])
                if segments and segments[-1][1] == prev:
                    segments[-1][1] = now
                else:
                    segments.append([prev, now])
        horizon = now - self.config.pause_window_seconds
        for channel in list(self._pauses):
            kept = [s for s in self._pauses[channel] if s[1] > horizon]
            if kept:
                self._pauses[channel] = kept
            else:
                del self._pauses[channel]
        self._prev_now, self._prev_full = now, full

    def paused_seconds(self, channel: str, now: float) -> float:
        horizon = now - self.config.pause_window_seconds
        return sum(
            max(0.0, end - max(start, horizon))
            for start, end in self._pauses.get(channel, ())
        )

    def trickle(self, channel: str, now: float) -> bool:
        """Whether ``channel`` is to be leased as a trickle now."""
        until = self.trickle_until.get(channel)
        if until is not None:
            if now < until:
                return True
            # The trickle repaid the debt: full pauses are allowed again.
            del self.trickle_until[channel]
            self._pauses.pop(channel, None)
            return False
        if self.paused_seconds(channel, now) >= self.config.max_pause_seconds:
            self.trickle_until[channel] = now + self.config.trickle_seconds
            return True
        return False
