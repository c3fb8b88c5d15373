"""Decision core of peak-governor: from one contention sample to lease actions.

Pure logic: no I/O, no clock (``now`` is an argument), no randomness except
the injected :class:`random.Random` (resume jitter).  One :class:`Policy` per
database, fed one :class:`~peak_governor.model.Sample` per interval::

    policy = Policy(PolicyConfig(), random.Random())
    decision = policy.decide(sample, channels, held, now, protected, peak_mode)

API
---
``Thresholds``
    When contention is *elevated* or *severe*, with enter and (looser) exit
    conditions.  ``Thresholds()`` are the normal defaults,
    :data:`PROTECTED_THRESHOLDS` the tighter ones used in fulfillment windows.
``PolicyConfig``
    Both threshold sets, dwell, fallback escalation, starvation guard and
    resume pacing; ``validate()`` raises :class:`ValueError` (one line).
``Policy(config, rng).decide(sample, channels, held, now, protected, peak_mode)``
    Returns a :class:`~peak_governor.model.Decision`.  ``channels`` is the
    whole channel table by complete name, ``held`` the leases the actuator
    reports as held by this governor (the truth: a lease the actuator failed
    to take is not held), ``protected`` whether a fulfillment window is open,
    ``peak_mode`` whether Peak mode is on; optional ``next_window_at`` (when
    the next protected interval opens) and ``job_p95_seconds`` (recent
    background/bulk job duration) drive the pre-window drain.
    ``Policy.level`` is the current level.
``drain_lead(config, job_p95_seconds)``
    The drain's lead time and where it comes from.

Rules
-----
Protected work
    Waiters whose role is ``interactive``, ``critical`` or ``operational``
    (order confirmation, picking, the jobs that move orders).  ``cron``,
    ``background``, ``bulk`` and ``other`` waiters never raise the level: a
    cron run is batch work that can wait, and low-priority work queuing behind
    itself is not what the governor protects.  Only protected waiters that
    waited at least ``elevated_exit_age`` are looked at for blame.
Level
    Computed from the protected waiters' count and wait ages (see
    :class:`Thresholds`).  Stepping up is immediate; stepping down goes one
    level at a time, each step only after the current level's exit condition
    failed for ``min_dwell_seconds`` in a row, so an oscillating stream does
    not flap.
Acting
    As ``docs/db-contract.md`` says: the protected thresholds inside a
    fulfillment window (``protected``, only counted with ``peak_mode``: a
    window cannot exist without Peak mode), the normal ones elsewhere; acting
    while Peak mode is on; outside Peak mode observe only (``acting=False``,
    no actions) unless the level is severe.  One exception: leases still held
    when acting stops are wound down like a resume (stepwise, reason
    ``peak_off``), not left to expire all at once.
Blame
    Each relevant waiter's ``blocker_pids`` are followed through blockers that
    wait themselves (up to :data:`MAX_CHAIN_DEPTH`) to the root blockers.  A
    root blocker that is a job of strictly lower priority than the waiter gets
    its channel leased: the channel itself or, for a sub-channel created on
    the fly, its closest existing ancestor, if leasable (below).  Interactive
    requests, crons, critical jobs and peers (same or higher class) are known
    and spared: pausing another channel would not free their locks.
Conflicts
    Protected work that lost its transaction to a concurrent one (counted by
    peak_queue, ``Sample.conflicts_delta``) has no blocker to follow: see
    :mod:`peak_governor.conflicts` for how it counts toward the level, opens
    the demand gate (``conflicts``) and blames the lower-class jobs that were
    in a transaction (never the fallback).
Fallback
    Only for root blockers that are untagged/unknown or jobs whose channel
    cannot be resolved to a leasable one: lease by class, ``bulk`` first, then
    ``background``, then ``operational``, one class more per
    ``fallback_escalate_cycles`` cycles that still need the fallback (a class
    with nothing leasable is skipped at once); never a class as important as
    the waiter.  A class is leased as its largest leasable sub-trees made only
    of allowed classes, skipping channels a human already paused.
Leasable
    Exists in the table, not ``root``, nothing critical or pinned at or below
    it (descendants: names starting with ``name + "."``), as the database
    enforces; for blame and fallback also nothing at or below it as important
    as the waiter.  Like the database, a pin protects the channel and its
    parents, not its children.  A held channel that stops being leasable (a
    human pinned it) is released at once.
Renewal
    While the level is above calm every held channel is leased again each
    cycle (the actuator writes the renewal only now and then: the policy
    says what it wants held, not how often the database hears it).
Starvation guard
    Full-pause time per channel is accounted over a rolling
    ``pause_window_seconds``; past ``max_pause_seconds`` the channel is leased
    with ``trickle=True`` for ``trickle_seconds``, after which the debt is
    cleared and a full pause is allowed again.
Demand-aware hold
    Waiters vanish once the blamed channel is paused, while the wave of
    protected work goes on: calm alone does not release.  Protected demand is
    the observed rate of protected activity (``Sample.protected_activity``:
    distinct request and critical/operational job statements seen by their
    ``state_change``, per second over ``demand_window_seconds``); it
    persists while protected work waits on a lock, or while that rate is at
    least ``demand_min_rate`` and at least ``demand_hold_fraction`` of the
    highest rate seen since the episode's first lease (the wave is over when
    activity falls back to the office's background level, not to zero).
    While Peak mode is on and leases are held, a calm governor keeps
    renewing them (reason ``hold``) while demand persists,
    until it has been gone for ``release_quiet_seconds``, and at least
    ``min_hold_seconds`` after the episode's first lease.
Demand gate
    At elevated level a new lease needs a wave: at least two distinct
    protected requests (backends) waiting on locks within the last
    ``demand_window_seconds``.  With ``protect_starving`` (off by default:
    the "pickers first" profile), one request that starves opens it too:
    one protected backend that waits again within :data:`RETRY_WINDOW_S` of
    an earlier wait (Odoo rolled its transaction back on a serialization
    failure and retried it, or the same worker's next request hit the lock
    again), or one wait of at least ``demand_gate_max_wait``.  A lone
    request that waited a fraction of a second while nothing else goes on
    is not worth a paused channel (it is a small share of the calls; the
    pause would cost bulk a minimum hold).  The activity rate is no gate: it
    counts statements, and one request that authenticates, waits and
    retries makes several.  Severe contention always acts; held leases are
    renewed either way; ``demand_gate = false`` turns the gate off.
    Evidence ``demand.gate`` says which condition opened it (``wave``,
    ``starving``, ``long_wait``) or ``closed``; ``demand.starving_pids``
    lists the starving requests even with the profile off.
Re-lease backoff
    A new lease within ``relapse_window_seconds`` of releasing everything is
    a relapse: the releasing was premature.  Each relapse doubles both the
    minimum hold and the quiet time required (capped at
    ``max_hold_seconds``), so a release/re-lease pair cannot recur faster
    than the doubling allows (at most 2 transitions per minute on average
    over any flapping run of 5 minutes or more); no relapse for
    ``relapse_window_seconds`` after a release, or the fulfillment window
    opening or closing, starts over.  A lease that one starving request took
    (``protect_starving``) counts like any other: the bound holds whatever
    opened the gate.
Pre-window drain
    ``drain_lead`` seconds before a protected interval opens (``next_window_at``),
    every leasable background and bulk sub-tree not paused by a human is
    leased (reason ``pre_window_drain``, evidence ``drain``) so that the
    transactions running finish before the first picker arrives; the lead is
    ``drain_lead_seconds`` when set, else 1.5 x the p95 duration of recent
    background and bulk jobs + 1 s (at least 2 s, 30 s without history),
    capped at ``drain_lead_max_seconds``.  Drained channels are held at
    least ``min_hold_seconds`` into the window, then by demand as above,
    and released once calm when the window closes: its end is the plan,
    and demand still decaying from the wave is no contention (if work
    still collides, the governor leases again as for any wave).
Resume
    Once calm (after the dwell) and no hold applies, held channels are
    released all at once (``resume_step_seconds`` = 0, the default) or one
    at a time, most important class first (operational, background, bulk),
    the first at once, the next ``resume_step_seconds`` later ±
    ``resume_jitter`` (drawn from the injected Random), the others renewed
    meanwhile.  Contention coming back cancels the resume.
Preemption (opt-in, ``preempt_after`` seconds, 0 = off)
    At severe level only, a root blocker that is a job of a background or
    bulk channel, blamed as above (strictly less important than the waiter),
    *running a statement* (``state = 'active'``: PostgreSQL ignores a cancel
    while a session sits idle in its transaction) and blocking protected work
    that has waited at least ``preempt_after`` gets a ``preempt`` action:
    the database cancels its statement, the job's transaction rolls back and
    peak_queue retries the job.  Each job is preempted at most once per
    :data:`PREEMPT_MEMORY_S`; its channel is leased as usual so the retry
    waits for the wave to pass.
Evidence
    Every action carries ``reason``: ``blame`` or ``fallback`` for a new
    lease, ``renew`` for a held one (evidence keeps ``first_reason`` and this
    cycle's blame), ``hold`` for one kept while calm (evidence ``hold``: why),
    ``pre_window_drain`` for a drain, ``starvation_guard`` when a lease
    switches to (or starts as a) trickle, ``calm``, ``peak_off`` or
    ``unleasable`` for a release; and a JSON-serialisable ``evidence`` dict:
    level, thresholds, at most :data:`MAX_LISTED` waiters and root blockers,
    protected ``demand`` and the ``backoff`` state, plus what the reason needs.
"""

import math
import random
from dataclasses import asdict, dataclass, field, fields

from .attribution import KIND_JOB, KIND_OTHER, Role
from .conflicts import Conflicts, ConflictView
from .model import (
    CALM,
    ELEVATED,
    LEVELS,
    SEVERE,
    Action,
    Backend,
    ChannelInfo,
    Decision,
    LeaseState,
    Sample,
    Waiter,
)

ROOT = "root"
#: Importance of a class, 0 = most important.  Unknown classes count as
#: critical so that they are never paused.
CLASS_RANK = {"critical": 0, "operational": 1, "background": 2, "bulk": 3}
#: Importance of the work a waiter does (same scale as :data:`CLASS_RANK`).
PROTECTED_RANK = {"interactive": 0, "critical": 0, "operational": 1}
FALLBACK_ORDER = ("bulk", "background", "operational")
#: Blockers that wait themselves are followed this deep to the root blocker.
MAX_CHAIN_DEPTH = 5
#: Waiters and blockers listed in evidence (the DB caps evidence at 64 KiB).
MAX_LISTED = 20
#: Each relapse multiplies the minimum hold and the quiet time by this.
HOLD_BACKOFF = 2.0
#: Derived drain lead: this many times the p95 job duration, plus a second
#: for the runner to notice; never under the floor; this without history.
DRAIN_LEAD_FACTOR = 1.5
DRAIN_LEAD_FLOOR_S = 2.0
DRAIN_LEAD_UNKNOWN_S = 30.0
MAX_DRAIN_LEAD_S = 3600.0
#: A protected backend waiting again this soon after an earlier wait is one
#: request Odoo retries (it sleeps up to 2, 4, 8, 16 s between its 5 tries).
RETRY_WINDOW_S = 30.0
#: A job preempted once is not preempted again for this long.
PREEMPT_MEMORY_S = 3600.0
#: Classes whose running jobs may be preempted.
PREEMPTIBLE = ("background", "bulk")


@dataclass(frozen=True)
class Thresholds:
    """When contention among protected waiters is elevated or severe.

    A waiter "counts" once it waited ``elevated_enter_age`` seconds (to enter)
    or ``elevated_exit_age`` (to stay).  Elevated: at least
    ``elevated_enter_count`` counting waiters (stays while
    ``elevated_exit_count``).  Severe: at least ``severe_enter_count``
    counting waiters or one waiting ``severe_enter_age`` (stays while
    ``severe_exit_count`` or ``severe_exit_age``).
    """

    # Defaults: a request stuck half a second on a row lock is felt (Odoo's
    # own row locks are held for milliseconds); five at once, or one for 5 s
    # (users retry, proxies start timing out), is an incident.  Exits at half.
    elevated_enter_count: int = 1
    elevated_enter_age: float = 0.5
    elevated_exit_count: int = 1
    elevated_exit_age: float = 0.25
    severe_enter_count: int = 5
    severe_enter_age: float = 5.0
    severe_exit_count: int = 3
    severe_exit_age: float = 2.5

    def validate(self, name: str = "thresholds") -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_count"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{name}.{f.name} must be an integer")
                if value < 1:
                    raise ValueError(f"{name}.{f.name} must be at least 1")
            else:
                _check_seconds(f"{name}.{f.name}", value, positive=True)
        for level in ("elevated", "severe"):
            for what in ("count", "age"):
                enter = getattr(self, f"{level}_enter_{what}")
                exit_ = getattr(self, f"{level}_exit_{what}")
                if exit_ > enter:
                    raise ValueError(
                        f"{name}.{level}_exit_{what} ({exit_}) is above "
                        f"{level}_enter_{what} ({enter})"
                    )
        for when in ("enter", "exit"):
            for what in ("count", "age"):
                severe = getattr(self, f"severe_{when}_{what}")
                elevated = getattr(self, f"elevated_{when}_{what}")
                if severe < elevated:
                    raise ValueError(
                        f"{name}.severe_{when}_{what} ({severe}) is below "
                        f"elevated_{when}_{what} ({elevated})"
                    )


#: Inside a fulfillment window: pickers scan every few seconds, and a
#: request that waits on a row lock pays Odoo's retry on top (a serialization
#: failure, then a random sleep of up to 2 s) once the holder commits, so a
#: tenth of a second (ten times Odoo's own lock times) already counts; three
#: stuck requests are an incident.  Only waits whose root blocker is less
#: important work lead to a lease (blame), and a new one needs a wave (the
#: demand gate): this does not pause bulk for collisions among pickers.
PROTECTED_THRESHOLDS = Thresholds(
    elevated_enter_count=1,
    elevated_enter_age=0.1,
    elevated_exit_count=1,
    elevated_exit_age=0.05,
    severe_enter_count=3,
    severe_enter_age=2.5,
    severe_exit_count=2,
    severe_exit_age=1.0,
)


@dataclass(frozen=True)
class PolicyConfig:
    """Every knob of the policy; see the module docstring for the rules."""

    normal: Thresholds = field(default_factory=Thresholds)
    protected: Thresholds = PROTECTED_THRESHOLDS
    min_dwell_seconds: float = 10.0
    fallback_escalate_cycles: int = 5
    max_pause_seconds: float = 900.0
    pause_window_seconds: float = 3600.0
    trickle_seconds: float = 300.0
    resume_step_seconds: float = 0.0
    resume_jitter: float = 0.5
    demand_window_seconds: float = 2.0
    demand_min_rate: float = 1.0
    demand_hold_fraction: float = 0.3
    demand_gate: bool = True
    protect_starving: bool = False  # the "pickers first" profile turns it on
    demand_gate_max_wait: float = 1.0
    release_quiet_seconds: float = 1.0
    min_hold_seconds: float = 15.0
    relapse_window_seconds: float = 60.0
    max_hold_seconds: float = 300.0
    pre_window_drain: bool = True
    drain_lead_seconds: float = 0.0  # 0: derived from recent job durations
    drain_lead_max_seconds: float = 120.0
    preempt_after: float = 0.0  # seconds; 0: never preempt

    def validate(self) -> None:
        """Raise :class:`ValueError` (one line) on a nonsensical config."""
        self.normal.validate("normal")
        self.protected.validate("protected")
        for f in fields(Thresholds):
            tight = getattr(self.protected, f.name)
            loose = getattr(self.normal, f.name)
            if tight > loose:
                raise ValueError(
                    f"protected.{f.name} ({tight}) is looser than "
                    f"normal.{f.name} ({loose}): protected thresholds must be "
                    "tighter"
                )
        _check_seconds("min_dwell_seconds", self.min_dwell_seconds)
        cycles = self.fallback_escalate_cycles
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
            raise ValueError("fallback_escalate_cycles must be an integer >= 1")
        _check_seconds("max_pause_seconds", self.max_pause_seconds, positive=True)
        _check_seconds("pause_window_seconds", self.pause_window_seconds, positive=True)
        if self.max_pause_seconds >= self.pause_window_seconds:
            raise ValueError(
                f"max_pause_seconds ({self.max_pause_seconds}) must be below "
                f"pause_window_seconds ({self.pause_window_seconds})"
            )
        _check_seconds("trickle_seconds", self.trickle_seconds, positive=True)
        _check_seconds("resume_step_seconds", self.resume_step_seconds)
        jitter = self.resume_jitter
        if isinstance(jitter, bool) or not isinstance(jitter, int | float):
            raise ValueError("resume_jitter must be a number between 0 and 1")
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"resume_jitter must be between 0 and 1, got {jitter}")
        _check_seconds(
            "demand_window_seconds", self.demand_window_seconds, positive=True
        )
        _check_seconds("demand_min_rate", self.demand_min_rate, positive=True)
        fraction = self.demand_hold_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValueError("demand_hold_fraction must be a number between 0 and 1")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(
                f"demand_hold_fraction must be between 0 and 1, got {fraction}"
            )
        _check_seconds("demand_gate_max_wait", self.demand_gate_max_wait, positive=True)
        _check_seconds("release_quiet_seconds", self.release_quiet_seconds)
        _check_seconds("min_hold_seconds", self.min_hold_seconds)
        _check_seconds("relapse_window_seconds", self.relapse_window_seconds)
        _check_seconds("max_hold_seconds", self.max_hold_seconds)
        for name in ("pre_window_drain", "demand_gate", "protect_starving"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        for name in ("drain_lead_seconds", "drain_lead_max_seconds"):
            value = getattr(self, name)
            _check_seconds(name, value, positive=name == "drain_lead_max_seconds")
            if value > MAX_DRAIN_LEAD_S:
                raise ValueError(f"{name} must be at most {MAX_DRAIN_LEAD_S:.0f} s")
        _check_seconds("preempt_after", self.preempt_after)
        longest = max(self.min_hold_seconds, self.release_quiet_seconds)
        if self.max_hold_seconds < longest:
            raise ValueError(
                f"max_hold_seconds ({self.max_hold_seconds}) is below "
                f"min_hold_seconds or release_quiet_seconds ({longest})"
            )


def _check_seconds(name: str, value, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "positive" if positive else "zero or more"
        raise ValueError(f"{name} must be {bound} and finite, got {value}")


def drain_lead(config: PolicyConfig, job_p95_seconds: float | None) -> tuple:
    """(lead seconds, where it comes from) of the pre-window drain; 0 = off."""
    if not config.pre_window_drain:
        return 0.0, "off"
    if config.drain_lead_seconds > 0:
        return float(config.drain_lead_seconds), "configured"
    cap = config.drain_lead_max_seconds
    if job_p95_seconds is None or not math.isfinite(job_p95_seconds):
        return min(DRAIN_LEAD_UNKNOWN_S, cap), "default, no recent job"
    derived = max(job_p95_seconds * DRAIN_LEAD_FACTOR + 1.0, DRAIN_LEAD_FLOOR_S)
    source = f"{DRAIN_LEAD_FACTOR:g} x p95 of recent bulk/background jobs"
    if derived > cap:
        return cap, source + f" ({derived:.0f} s), capped"
    return derived, source


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


class _Table:
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


@dataclass
class _Blame:
    """Who to pause for this sample's relevant waiters."""

    channels: dict[str, dict]  # channel -> {"waiter_pids", "blocker_pids"}
    fallback_rank: int | None  # most important waiter needing the fallback
    roots: dict[int, Backend | None]  # root blockers seen
    # blamed root blocker pid -> (its channel, longest wait it causes)
    blocking: dict[int, tuple[str, float]] = field(default_factory=dict)


@dataclass
class _Cycle:
    """What one decide() call works with."""

    sample: Sample
    table: _Table
    held: dict[str, LeaseState]
    now: float
    relevant: list[Waiter]
    evidence: dict
    conflicts: ConflictView


def _num(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _root_blockers(waiter: Waiter, waiting: dict[int, Waiter]) -> list[int]:
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


class Policy:
    """Stateful decision maker; see the module docstring."""

    def __init__(self, config: PolicyConfig, rng: random.Random):
        config.validate()
        self.config = config
        self._rng = rng
        self._level = CALM
        self._below_since: float | None = None  # exit condition failing since
        self._fallback_step = 0  # 1-based index in FALLBACK_ORDER, 0: none
        self._fallback_cycles = 0  # cycles needing the fallback at that step
        self._pauses: dict[str, list[list[float]]] = {}  # full-pause segments
        self._prev_now: float | None = None
        self._prev_full: set[str] = set()
        self._trickle_until: dict[str, float] = {}
        self._next_release_at: float | None = None
        self._releasing: set[str] = set()
        self._first_reason: dict[str, str] = {}
        # Demand-aware hold and re-lease backoff.
        self._activity: dict[tuple[int, float], float] = {}  # -> when, our clock
        self._waiters_seen: dict[int, float] = {}  # protected waiter pid -> when
        # Protected pid -> [last seen waiting, separate waits seen] (retries).
        self._waits: dict[int, list] = {}
        self._waiting_pids: set[int] = set()  # protected waiters last sample
        self._gate = "closed"  # what opens the demand gate this cycle
        self._demand: dict = {}
        self._episode_peak_rate = 0.0  # highest demand since the first lease
        self._last_demand_at: float | None = None
        self._held_since: float | None = None  # first lease of this episode
        self._released_at: float | None = None  # everything released then
        self._relapses = 0
        self._was_protected: bool | None = None
        self._drained_window: float | None = None  # window start drained for
        self._window_closed_at: float | None = None  # last window's end seen
        self._preempted: dict[str, float] = {}  # job uuid -> when
        self._conflicts = Conflicts()

    @property
    def level(self) -> str:
        return self._level

    def decide(
        self,
        sample: Sample,
        channels: dict[str, ChannelInfo],
        held: dict[str, LeaseState],
        now: float,
        protected: bool,
        peak_mode: bool,
        next_window_at: float | None = None,
        job_p95_seconds: float | None = None,
    ) -> Decision:
        protected = bool(protected and peak_mode)
        thresholds = self.config.protected if protected else self.config.normal
        conflicts = self._conflicts.observe(sample, now, tuple(PROTECTED_RANK))
        waits = sorted(
            (
                w.wait_seconds
                for w in sample.waiters
                if w.backend.role_label in PROTECTED_RANK
            ),
            reverse=True,
        )
        # A conflict costs its request a retry's sleep: a waiter for the level.
        ages = sorted(waits + conflicts.ages(), reverse=True)
        previous = self._level
        self._step_level(ages, thresholds, now)
        self._account_pauses(held, now)
        for gone in set(self._first_reason) - set(held):
            del self._first_reason[gone]

        relevant = [
            w
            for w in sample.waiters
            if w.backend.role_label in PROTECTED_RANK
            and w.wait_seconds >= thresholds.elevated_exit_age
        ]
        if protected != self._was_protected:
            self._relapses = 0  # a window opened or closed: a new start
            if self._was_protected:
                self._window_closed_at = now
            self._was_protected = protected
        self._track_demand(sample, now, relevant)
        if self._gate == "closed" and conflicts.wave:
            self._gate = self._demand["gate"] = "conflicts"
        cycle = _Cycle(sample, _Table(channels), held, now, relevant, {}, conflicts)
        blame = self._analyse(cycle)
        self._blame_conflicts(cycle, blame, conflicts)
        cycle.evidence = self._evidence(cycle, blame, previous, thresholds, protected)
        cycle.evidence["conflicts"] = conflicts.evidence()
        summary = (
            f"{len(waits)} protected waiter{'s' if len(waits) != 1 else ''}, "
            f"oldest {waits[0]:.1f} s"
            if waits
            else "no protected work waits on locks"
        )
        if conflicts.count:
            summary += ", " + conflicts.summary()
        head = self._level.capitalize()
        if previous != self._level:
            head += f" (was {previous})"

        drain = self._drain(now, next_window_at, job_p95_seconds)
        if drain:
            actions, what = self._act(cycle, blame)
            actions, what = self._add_drain(cycle, actions, what, drain)
            return Decision(
                level=self._level,
                previous_level=previous,
                protected=protected,
                acting=True,
                actions=tuple(actions),
                explanation=f"{head}: {summary}; {what}.",
            )
        if peak_mode or self._level == SEVERE:
            hold = self._hold_reason(cycle) if self._level == CALM else None
            if hold:
                actions, what = self._hold(cycle, hold)
            elif self._level == CALM:
                actions, what = self._resume(cycle, "calm")
            else:
                actions, what = self._act(cycle, blame)
        elif held:
            actions, what = self._resume(
                cycle, "calm" if self._level == CALM else "peak_off"
            )
            what = f"winding down, Peak mode off: {what}"
        else:
            self._reset_fallback()
            return Decision(
                level=self._level,
                previous_level=previous,
                protected=False,
                acting=False,
                actions=(),
                explanation=f"{head}: {summary}; observing only (Peak mode off).",
            )
        return Decision(
            level=self._level,
            previous_level=previous,
            protected=protected,
            acting=True,
            actions=tuple(actions),
            explanation=f"{head}: {summary}; {what}.",
        )

    # -- level ---------------------------------------------------------------

    def _step_level(self, ages: list[float], th: Thresholds, now: float) -> None:
        def count(age: float) -> int:
            return sum(1 for a in ages if a >= age)

        severe_stays = self._level == SEVERE and (
            count(th.elevated_exit_age) >= th.severe_exit_count
            or count(th.severe_exit_age) >= 1
        )
        severe_enters = (
            count(th.elevated_enter_age) >= th.severe_enter_count
            or count(th.severe_enter_age) >= 1
        )
        elevated_stays = (
            self._level != CALM
            and count(th.elevated_exit_age) >= th.elevated_exit_count
        )
        elevated_enters = count(th.elevated_enter_age) >= th.elevated_enter_count
        if severe_stays or severe_enters:
            raw = LEVELS.index(SEVERE)
        elif elevated_stays or elevated_enters:
            raw = LEVELS.index(ELEVATED)
        else:
            raw = LEVELS.index(CALM)
        current = LEVELS.index(self._level)
        if raw > current:  # up at once
            self._level = LEVELS[raw]
            self._below_since = None
        elif raw < current:  # down one level per dwell
            if self._below_since is None:
                self._below_since = now
            if now - self._below_since >= self.config.min_dwell_seconds:
                self._level = LEVELS[current - 1]
                self._below_since = now if raw < current - 1 else None
        else:
            self._below_since = None

    # -- blame and fallback --------------------------------------------------

    def _analyse(self, cycle: _Cycle) -> _Blame:
        sample, table = cycle.sample, cycle.table
        waiting = {w.backend.pid: w for w in sample.waiters}
        blame = _Blame({}, None, {})
        for waiter in cycle.relevant:
            rank = PROTECTED_RANK[waiter.backend.role_label]
            for pid in _root_blockers(waiter, waiting):
                backend = sample.blockers.get(pid)
                if backend is None and pid in waiting:
                    backend = waiting[pid].backend
                blame.roots[pid] = backend
                channel = self._judge(backend, rank, table)
                if channel == "":
                    continue  # known and spared
                if channel is None:
                    if blame.fallback_rank is None or rank < blame.fallback_rank:
                        blame.fallback_rank = rank
                    continue
                _c, longest = blame.blocking.get(pid, (channel, 0.0))
                blame.blocking[pid] = (channel, max(longest, waiter.wait_seconds))
                entry = blame.channels.setdefault(
                    channel, {"waiter_pids": [], "blocker_pids": []}
                )
                for key, value in (
                    ("waiter_pids", waiter.backend.pid),
                    ("blocker_pids", pid),
                ):
                    if value not in entry[key] and len(entry[key]) < MAX_LISTED:
                        entry[key].append(value)
        return blame

    @staticmethod
    def _judge(backend: Backend | None, rank: int, table: _Table) -> str | None:
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

    def _blame_conflicts(
        self, cycle: _Cycle, blame: _Blame, conflicts: ConflictView
    ) -> None:
        """Blame the suspects of this sample's conflicts (conflicts.py):
        jobs in a transaction lately, of a class below the work that lost."""
        if not conflicts.count:
            return
        rank = min(PROTECTED_RANK[cls] for cls in conflicts.new)
        for backend in conflicts.suspects:
            channel = self._judge(backend, rank, cycle.table)
            if not channel:
                continue  # spared, or untagged: a conflict is no fallback
            entry = blame.channels.setdefault(
                channel, {"waiter_pids": [], "blocker_pids": []}
            )
            suspects = entry.setdefault("conflict_suspect_pids", [])
            if backend.pid not in suspects and len(suspects) < MAX_LISTED:
                suspects.append(backend.pid)
            entry["conflicts"] = dict(conflicts.new)

    def _fallback(self, cycle: _Cycle, need_rank: int | None) -> tuple[list, str]:
        if need_rank is None:
            return [], ""
        max_step = sum(1 for c in FALLBACK_ORDER if CLASS_RANK[c] > need_rank)
        if self._fallback_step == 0:
            self._fallback_step, self._fallback_cycles = 1, 0
        elif self._fallback_cycles >= self.config.fallback_escalate_cycles:
            self._fallback_step += 1
            self._fallback_cycles = 0
        self._fallback_cycles += 1
        self._fallback_step = min(self._fallback_step, len(FALLBACK_ORDER))
        step = min(self._fallback_step, max_step)
        found: list[str] = []
        while step <= max_step:
            found = cycle.table.fallback(FALLBACK_ORDER[step - 1])
            if found:
                break
            step += 1  # nothing leasable in that class: the next one now
        if not found:
            return [], ""
        if step > self._fallback_step:
            self._fallback_step, self._fallback_cycles = step, 1
        return found, FALLBACK_ORDER[step - 1]

    def _reset_fallback(self) -> None:
        self._fallback_step = self._fallback_cycles = 0

    # -- actions -------------------------------------------------------------

    def _act(self, cycle: _Cycle, blame: _Blame) -> tuple[list[Action], str]:
        self._next_release_at = None
        self._releasing.clear()
        actions = self._drop_unleasable(cycle)
        lone = self._lone_wait(cycle)
        if lone:
            # Held leases are renewed as usual; nothing new is taken.
            blame = _Blame({}, None, blame.roots, blame.blocking)
        fallback, cls = self._fallback(cycle, blame.fallback_rank)
        # Evidence per channel: why it is (still) wanted this cycle.
        wanted: dict[str, dict] = {
            c: {"first_reason": self._first_reason.get(c, "unknown")}
            for c in cycle.held
            if cycle.table.leasable(c)
        }
        for channel in fallback:
            wanted.setdefault(channel, {}).update(
                fallback_class=cls, fallback_cycles=self._fallback_cycles
            )
        for channel, pids in blame.channels.items():
            wanted.setdefault(channel, {})["blame"] = pids
        new = []
        for channel in sorted(wanted, key=lambda c: (c in cycle.held, c)):
            extra = wanted[channel]
            # A held channel is renewed, whatever wants it now: a renewal is
            # routine, a new lease is news.
            if channel in cycle.held:
                reason = "renew"
            else:
                reason = "blame" if "blame" in extra else "fallback"
                new.append(channel)
                self._first_reason[channel] = reason
            actions.append(self._lease(cycle, channel, reason, extra))
        if new and not cycle.held:
            self._start_episode(cycle.now)
        renewed = sum(
            1 for a in actions if a.kind == "lease" and a.channel in cycle.held
        )
        if new:
            what = f"leasing {', '.join(new)}"
            if renewed:
                what += f", renewing {renewed}"
        elif renewed:
            what = f"nothing new to lease, renewing {renewed} until calm"
        elif lone:
            what = lone
        elif blame.roots:
            what = "no lower-priority job to pause"
        else:
            what = "nothing to pause"
        if cls:
            what += f" (fallback class {cls}: blockers untagged or unresolved)"
        preempts = self._preempt(cycle, blame)
        if preempts:
            actions.extend(preempts)
            what += ", preempting " + ", ".join(
                f"job {a.job_uuid} of {a.channel}" for a in preempts
            )
        return actions, what

    def _resume(self, cycle: _Cycle, reason: str) -> tuple[list[Action], str]:
        self._reset_fallback()
        actions = self._drop_unleasable(cycle)
        held = cycle.held
        # A release the actuator did not apply yet is simply asked again.
        self._releasing &= set(held)
        for channel in sorted(self._releasing):
            actions.append(self._release(cycle, channel, reason))
        pending = [
            c for c in held if c not in self._releasing and cycle.table.leasable(c)
        ]
        if not pending:
            self._next_release_at = None
            return actions, "nothing leased" if not actions else "releasing"
        if self._next_release_at is None:
            self._next_release_at = cycle.now  # the dwell already waited
        released = ""
        step = self.config.resume_step_seconds
        if step == 0:  # the default: everything at once
            for channel in sorted(pending, key=lambda c: (cycle.table.rank(c), c)):
                self._releasing.add(channel)
                actions.append(self._release(cycle, channel, reason))
            self._next_release_at = None
            self._end_episode(cycle.now)
            return actions, f"released {', '.join(sorted(pending))} at once"
        if cycle.now >= self._next_release_at:
            released = min(pending, key=lambda c: (cycle.table.rank(c), c))
            pending.remove(released)
            self._releasing.add(released)
            actions.append(self._release(cycle, released, reason))
            jitter = self.config.resume_jitter * self._rng.uniform(-1.0, 1.0)
            self._next_release_at = (
                cycle.now + step * (1.0 + jitter) if pending else None
            )
        for channel in sorted(pending):
            first = self._first_reason.get(channel, "unknown")
            actions.append(
                self._lease(cycle, channel, "renew", {"first_reason": first})
            )
        if not pending:
            self._end_episode(cycle.now)
        what = f"released {released}, " if released else "resuming, "
        if pending:
            wait = max(0.0, self._next_release_at - cycle.now)
            what += f"{len(pending)} still leased, next release in {wait:.0f} s"
        else:
            what += "all released"
        return actions, what

    # -- demand-aware hold and backoff ----------------------------------------

    def _track_demand(self, sample: Sample, now: float, relevant: list) -> None:
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
            self._gate = "wave"
        elif lone_ok and starving:
            self._gate = "starving"
        elif lone_ok and waiting and oldest >= self.config.demand_gate_max_wait:
            self._gate = "long_wait"
        else:
            self._gate = "closed"
        active = 0
        for activity in sample.protected_activity:
            key = (activity.pid, activity.changed_at)
            self._activity.setdefault(key, now - activity.age_seconds)
            active += activity.active
        self._activity = {k: t for k, t in self._activity.items() if t >= horizon}
        rate = len(self._activity) / window
        if self._held_since is not None:
            self._episode_peak_rate = max(self._episode_peak_rate, rate)
        threshold = max(
            self.config.demand_min_rate,
            self.config.demand_hold_fraction * self._episode_peak_rate,
        )
        persists = waiting or rate >= threshold
        if persists:
            self._last_demand_at = now
        newest = max(
            (now - a.age_seconds for a in sample.protected_activity), default=None
        )
        self._demand = {
            "gate": self._gate,
            "starving_pids": starving[:MAX_LISTED],
            "rate_per_second": _num(rate),
            "threshold_per_second": _num(threshold),
            "episode_peak_per_second": _num(self._episode_peak_rate),
            "window_seconds": window,
            "active": active,
            "protected_waiting": waiting,
            "protected_waiters_in_window": len(self._waiters_seen),
            "persists": persists,
            "last_activity_seconds_ago": (
                None if newest is None else _num(max(0.0, now - newest))
            ),
            "gone_for_seconds": (
                None
                if self._last_demand_at is None
                else _num(now - self._last_demand_at)
            ),
        }

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

    def _lone_wait(self, cycle: _Cycle) -> str:
        """Why contention is no reason for a new lease ("" when it is): at
        elevated level, one protected request that waited a fraction of a
        second while no other did within ``demand_window_seconds`` costs
        that one request little; pausing the channel for a hold would cost
        the bulk work more.  A request that waits again after Odoo retried
        it, or waits ``demand_gate_max_wait``, is no fraction of a second."""
        if not self.config.demand_gate or self._level != ELEVATED:
            return ""
        if self._gate != "closed":
            return ""
        if not cycle.relevant and cycle.conflicts.count:
            return cycle.conflicts.no_wave()
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

    def _backoff(self) -> tuple[float, float]:
        """(minimum hold, quiet time) after this many relapses."""
        factor = HOLD_BACKOFF**self._relapses
        cap = self.config.max_hold_seconds
        return (
            min(self.config.min_hold_seconds * factor, cap),
            min(self.config.release_quiet_seconds * factor, cap),
        )

    def _start_episode(self, now: float) -> None:
        if (
            self._released_at is not None
            and now - self._released_at <= self.config.relapse_window_seconds
        ):
            self._relapses += 1
        else:
            self._relapses = 0
        self._held_since = now
        self._episode_peak_rate = 0.0

    def _end_episode(self, now: float) -> None:
        self._held_since = None
        self._released_at = now
        self._episode_peak_rate = 0.0
        self._drained_window = None

    def _hold_reason(self, cycle: _Cycle) -> str:
        """Why calm does not release yet ("" when it may)."""
        if not cycle.held:
            return ""
        hold, quiet = self._backoff()
        opened = self._drained_window
        closed = self._window_closed_at
        if opened is not None and closed is not None and closed > opened:
            return ""  # the window drained for is over: so is the plan
        if opened is not None and cycle.now < opened + self.config.min_hold_seconds:
            return (
                f"drained for the window opened {max(0.0, cycle.now - opened):.0f} s"
                f" ago, held at least {self.config.min_hold_seconds:.0f} s into it"
            )
        if self._demand.get("persists"):
            return (
                f"protected demand persists "
                f"({self._demand['rate_per_second']:.1f}/s)"
            )
        gone = cycle.now - (self._last_demand_at or -math.inf)
        if gone < quiet:
            return f"protected demand gone {gone:.1f} s, waiting {quiet:.0f} s"
        held_for = cycle.now - (self._held_since or -math.inf)
        if held_for < hold:
            return (
                f"minimum hold {hold:.0f} s after {self._relapses} "
                f"relapse{'s' if self._relapses != 1 else ''}"
            )
        return ""

    def _hold(self, cycle: _Cycle, why: str) -> tuple[list[Action], str]:
        self._reset_fallback()
        self._next_release_at = None
        self._releasing.clear()
        actions = self._drop_unleasable(cycle)
        kept = sorted(c for c in cycle.held if cycle.table.leasable(c))
        for channel in kept:
            first = self._first_reason.get(channel, "unknown")
            actions.append(
                self._lease(
                    cycle, channel, "hold", {"first_reason": first, "hold": why}
                )
            )
        return actions, f"holding {', '.join(kept)}: {why}"

    # -- preemption ------------------------------------------------------------

    def _preempt(self, cycle: _Cycle, blame: _Blame) -> list[Action]:
        after = self.config.preempt_after
        horizon = cycle.now - PREEMPT_MEMORY_S
        self._preempted = {u: t for u, t in self._preempted.items() if t > horizon}
        if not after or self._level != SEVERE:
            return []
        actions = []
        for pid, (channel, waited) in sorted(blame.blocking.items()):
            backend = cycle.sample.blockers.get(pid)
            if backend is None or waited < after:
                continue
            role = backend.role
            if (
                role.kind != KIND_JOB
                or role.priority_class not in PREEMPTIBLE
                or not role.job_uuid
                or backend.state != "active"
                or role.job_uuid in self._preempted
            ):
                continue
            self._preempted[role.job_uuid] = cycle.now
            evidence = dict(cycle.evidence)
            evidence["preempted"] = {
                "pid": pid,
                "job_uuid": role.job_uuid,
                "channel": channel,
                "job_class": role.priority_class,
                "blocked_protected_seconds": _num(waited),
                "preempt_after": after,
                "statement_seconds": _num(backend.query_seconds),
            }
            actions.append(
                Action(
                    "preempt",
                    channel,
                    "preempt",
                    evidence,
                    pid=pid,
                    job_uuid=role.job_uuid,
                )
            )
        return actions

    # -- pre-window drain ------------------------------------------------------

    def _drain(self, now: float, window_at, job_p95) -> dict | None:
        if window_at is None:
            return None
        lead, source = drain_lead(self.config, job_p95)
        if not 0 < window_at - now <= lead:
            return None
        return {
            "window_opens_at": _num(window_at),
            "seconds_to_window": _num(window_at - now),
            "lead_seconds": _num(lead),
            "lead_source": source,
            "job_p95_seconds": None if job_p95 is None else _num(job_p95),
        }

    def _add_drain(
        self, cycle: _Cycle, actions: list[Action], what: str, drain: dict
    ) -> tuple[list[Action], str]:
        """Lease every background and bulk sub-tree for the coming window,
        on top of what contention asks now."""
        leased = {a.channel for a in actions if a.kind == "lease"}
        new = []
        for channel in cycle.table.fallback("background"):
            if channel in leased:
                continue
            if channel in cycle.held:
                first = self._first_reason.get(channel, "unknown")
                extra = {"first_reason": first, "drain": drain}
                actions.append(self._lease(cycle, channel, "renew", extra))
                continue
            self._first_reason[channel] = "pre_window_drain"
            actions.append(
                self._lease(cycle, channel, "pre_window_drain", {"drain": drain})
            )
            new.append(channel)
        if (new or leased) and self._held_since is None:
            self._held_since = cycle.now  # not a relapse: a planned pause
            self._episode_peak_rate = 0.0
        self._drained_window = drain["window_opens_at"]
        head = (f"draining {', '.join(new)}" if new else "drained channels held") + (
            f" before the window opening in {drain['seconds_to_window']:.0f} s "
            f"(lead {drain['lead_seconds']:.0f} s: {drain['lead_source']})"
        )
        return actions, f"{head}; {what}"

    def _drop_unleasable(self, cycle: _Cycle) -> list[Action]:
        """Release at once what the DB would now refuse to renew."""
        return [
            self._release(cycle, channel, "unleasable")
            for channel in sorted(cycle.held)
            if not cycle.table.leasable(channel)
        ]

    def _lease(self, cycle: _Cycle, channel: str, reason: str, extra: dict) -> Action:
        evidence = dict(cycle.evidence, **extra)
        info = cycle.table.info.get(channel)
        evidence["channel_class"] = info.priority_class if info else None
        trickle = self._trickle(channel, cycle.now)
        lease = cycle.held.get(channel)
        if trickle and not (lease and lease.trickle):  # the switch, not renewals
            evidence["paused_seconds_in_window"] = _num(
                self._paused_seconds(channel, cycle.now)
            )
            evidence["trickle_until"] = _num(self._trickle_until[channel])
            reason = "starvation_guard"
        return Action("lease", channel, reason, evidence, trickle=trickle)

    def _release(self, cycle: _Cycle, channel: str, reason: str) -> Action:
        return Action("release", channel, reason, dict(cycle.evidence))

    # -- starvation guard ----------------------------------------------------

    def _account_pauses(self, held: dict[str, LeaseState], now: float) -> None:
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

    def _paused_seconds(self, channel: str, now: float) -> float:
        horizon = now - self.config.pause_window_seconds
        return sum(
            max(0.0, end - max(start, horizon))
            for start, end in self._pauses.get(channel, ())
        )

    def _trickle(self, channel: str, now: float) -> bool:
        until = self._trickle_until.get(channel)
        if until is not None:
            if now < until:
                return True
            # The trickle repaid the debt: full pauses are allowed again.
            del self._trickle_until[channel]
            self._pauses.pop(channel, None)
            return False
        if self._paused_seconds(channel, now) >= self.config.max_pause_seconds:
            self._trickle_until[channel] = now + self.config.trickle_seconds
            return True
        return False

    # -- evidence ------------------------------------------------------------

    def _evidence(
        self,
        cycle: _Cycle,
        blame: _Blame,
        previous: str,
        thresholds: Thresholds,
        protected: bool,
    ) -> dict:
        sample = cycle.sample
        hold, quiet = self._backoff()
        waiters = sorted(
            sample.waiters,
            key=lambda w: (w.backend.role_label not in PROTECTED_RANK, -w.wait_seconds),
        )
        blockers = []
        for pid, backend in sorted(blame.roots.items())[:MAX_LISTED]:
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
            "level": self._level,
            "previous_level": previous,
            "protected": protected,
            "thresholds": asdict(thresholds),
            "waiters_total": len(sample.waiters),
            "waiters": [
                {
                    "pid": w.backend.pid,
                    "role": w.backend.role_label,
                    "wait_seconds": _num(w.wait_seconds),
                    "blocker_pids": list(w.blocker_pids[:MAX_LISTED]),
                }
                for w in waiters[:MAX_LISTED]
            ],
            "root_blockers_total": len(blame.roots),
            "root_blockers": blockers,
            "deadlocks_delta": sample.deadlocks_delta,
            "demand": dict(self._demand),
            "backoff": {
                "relapses": self._relapses,
                "min_hold_seconds": _num(hold),
                "quiet_seconds": _num(quiet),
            },
        }
