"""Rule: protected demand, waves against lone waits.

Demand
    The observed rate of protected activity (``Sample.protected_activity``:
    distinct request and critical/operational job statements seen by their
    ``state_change``, per second over ``demand_window_seconds``).  It
    persists while protected work waits on a lock, or while that rate is at
    least ``demand_min_rate`` and at least ``demand_hold_fraction`` of the
    highest rate seen since the episode's first lease (the wave is over when
    activity falls back to the office's background level, not to zero).
    :mod:`.episode` holds leases while it persists.
Demand gate
    At elevated level a new lease needs a wave: at least two distinct
    protected requests (backends) waiting on locks within the last
    ``demand_window_seconds``, or a conflict pattern (:mod:`.conflicts`).
    With ``protect_starving`` (expert, off), one request that starves opens
    it too: one protected backend that waits again within
    :data:`RETRY_WINDOW_S` of an earlier wait (Odoo rolled its transaction
    back and retried it), or one wait of at least ``demand_gate_max_wait``.
    A lone request that waited a fraction of a second while nothing else goes
    on is not worth a paused channel (the pause would cost bulk a minimum
    hold); the ``pickers_first`` profile answers it by preemption instead
    (:mod:`.preemption`).  The activity rate is no gate: it counts
    statements, and one request that authenticates, waits and retries makes
    several.  Severe contention always acts; held leases are renewed either
    way; ``demand_gate = false`` turns the gate off.  Evidence
    ``demand.gate`` says what opened it (``wave``, ``conflicts``,
    ``starving``, ``long_wait``) or ``closed``; ``demand.starving_pids``
    lists the starving requests whatever the settings.
"""

from ..model import ELEVATED, Sample, Waiter
from .config import PolicyConfig
from .conflicts import ConflictView
from .evidence import MAX_LISTED, num
from .table import PROTECTED_RANK

#: A protected backend waiting again this soon after an earlier wait is one
#: request Odoo retries (it sleeps up to 2, 4, 8, 16 s between its 5 tries).
RETRY_WINDOW_S = 30.0


class Demand:
    def __init__(self, config: PolicyConfig):
        self.config = config
        self.gate = "closed"  # what opens the demand gate this cycle
        self.view: dict = {}  # this cycle's figures, for evidence and holds
        self.peak_rate = 0.0  # highest rate since the episode's first lease
        self.last_seen_at: float | None = None  # demand last persisted then
        self._activity: dict[tuple[int, float], float] = {}  # -> when, our clock
        self._waiters_seen: dict[int, float] = {}  # protected waiter pid -> when
        # Protected pid -> [last seen waiting, separate waits seen] (retries).
        self._waits: dict[int, list] = {}
        self._waiting_pids: set[int] = set()  # protected waiters last sample

    @property
    def persists(self) -> bool:
        return bool(self.view.get("persists"))

    def track(
        self, sample: Sample, now: float, relevant: list[Waiter], in_episode: bool
    ) -> None:
        """Update the gate and the rate from this sample."""
        window = self.config.demand_window_seconds
        horizon = now - window
        waiting = bool(relevant)
        protected_pids = {
            w.backend.pid
            for w in sample.waiters
            if w.backend.role_label in PROTECTED_RANK
        }
        for pid in protected_pids:
            self._waiters_seen[pid] = now
        self._waiters_seen = {
            p: t for p, t in self._waiters_seen.items() if t >= horizon
        }
        starving = self._track_retries(protected_pids, now)
        oldest = max((w.wait_seconds for w in relevant), default=0.0)
        lone_ok = self.config.protect_starving
        if len(self._waiters_seen) >= 2:
            self.gate = "wave"
        elif lone_ok and starving:
            self.gate = "starving"
        elif lone_ok and waiting and oldest >= self.config.demand_gate_max_wait:
            self.gate = "long_wait"
        else:
            self.gate = "closed"
        active = 0
        for activity in sample.protected_activity:
            key = (activity.pid, activity.changed_at)
            self._activity.setdefault(key, now - activity.age_seconds)
            active += activity.active
        self._activity = {k: t for k, t in self._activity.items() if t >= horizon}
        rate = len(self._activity) / window
        if in_episode:
            self.peak_rate = max(self.peak_rate, rate)
        threshold = max(
            self.config.demand_min_rate,
            self.config.demand_hold_fraction * self.peak_rate,
        )
        persists = waiting or rate >= threshold
        if persists:
            self.last_seen_at = now
        newest = max(
            (now - a.age_seconds for a in sample.protected_activity), default=None
        )
        self.view = {
            "gate": self.gate,
            "starving_pids": starving[:MAX_LISTED],
            "rate_per_second": num(rate),
            "threshold_per_second": num(threshold),
            "episode_peak_per_second": num(self.peak_rate),
            "window_seconds": window,
            "active": active,
            "protected_waiting": waiting,
            "protected_waiters_in_window": len(self._waiters_seen),
            "persists": persists,
            "last_activity_seconds_ago": (
                None if newest is None else num(max(0.0, now - newest))
            ),
            "gone_for_seconds": (
                None if self.last_seen_at is None else num(now - self.last_seen_at)
            ),
        }

    def open_for_conflicts(self, conflicts: ConflictView) -> None:
        if self.gate == "closed" and conflicts.wave:
            self.gate = self.view["gate"] = "conflicts"

    def _track_retries(self, now_waiting: set[int], now: float) -> list[int]:
        """Protected backends waiting now that already waited separately
        within :data:`RETRY_WINDOW_S` (a request Odoo retries, starving)."""
        for pid in now_waiting:
            seen = self._waits.get(pid)
            if seen is None or now - seen[0] > RETRY_WINDOW_S:
                self._waits[pid] = [now, 1]
            elif pid in self._waiting_pids:
                seen[0] = now  # the same wait goes on
            else:
                self._waits[pid] = [now, seen[1] + 1]
        self._waits = {
            p: v for p, v in self._waits.items() if now - v[0] <= RETRY_WINDOW_S
        }
        self._waiting_pids = now_waiting
        return sorted(p for p in now_waiting if self._waits[p][1] >= 2)

    def lone_wait(
        self, level: str, relevant: list[Waiter], conflicts: ConflictView
    ) -> str:
        """Why contention is no reason for a new lease ("" when it is): at
        elevated level with the gate closed, what waits is one request."""
        if not self.config.demand_gate or level != ELEVATED:
            return ""
        if self.gate != "closed":
            return ""
        if not relevant and conflicts.count:
            return conflicts.no_wave()
        starving = (
            f", none waited {self.config.demand_gate_max_wait:g} s or again "
            "after a retry"
            if self.config.protect_starving
            else ""
        )
        return (
            "a lone protected wait, no wave (no other protected request "
            f"waited in the last {self.config.demand_window_seconds:g} s"
            f"{starving}): no new lease"
        )
