"""The values that flow through the governor: sensor → policy → actuator.

Plain frozen dataclasses, no I/O, so the policy can be tested with samples
built by hand and the sensor with a real PostgreSQL.
"""

from dataclasses import dataclass, field

from .attribution import Role

CALM = "calm"
ELEVATED = "elevated"
SEVERE = "severe"
LEVELS = (CALM, ELEVATED, SEVERE)  # ordered: index = severity


@dataclass(frozen=True)
class Backend:
    """A PostgreSQL backend as the sensor saw it."""

    pid: int
    role: Role  # parsed from application_name (attribution contract pk1)
    role_label: str  # interactive, cron, critical, operational, background, bulk, other
    state: str  # pg_stat_activity.state (active, idle in transaction, ...)
    query_seconds: float  # since query_start, 0 when unknown


@dataclass(frozen=True)
class Waiter:
    """A backend waiting on a heavyweight lock (wait_event_type = 'Lock')."""

    backend: Backend
    wait_seconds: float  # now - pg_locks.waitstart
    blocker_pids: tuple[int, ...]  # pg_blocking_pids(pid)


@dataclass(frozen=True)
class Activity:
    """A backend doing (or that last did) protected work: an HTTP request or
    a critical or operational job. Odoo's pool keeps a connection's tag until
    it lends it again, so an idle one still says what it last ran and when."""

    pid: int
    changed_at: float  # pg_stat_activity.state_change, epoch (DB clock): identity
    age_seconds: float  # since state_change
    active: bool  # not idle now


@dataclass(frozen=True)
class Sample:
    """One look at a database's lock contention."""

    database: str
    taken_at: float  # time.time() of the sample
    waiters: tuple[Waiter, ...]
    blockers: dict[int, Backend]  # every pid named in some blocker_pids
    deadlocks_total: int  # pg_stat_database.deadlocks (cumulative)
    deadlocks_delta: int  # since the previous sample of this database
    duration_seconds: float  # what the sample query cost
    protected_activity: tuple[Activity, ...] = ()  # demand, see Activity
    # Protected work that lost its transaction to a concurrent one since the
    # previous sample, per class (contract v3 peak_queue_conflicts()).
    conflicts_delta: dict[str, int] = field(default_factory=dict)
    # Jobs inside a transaction now: who a conflict can have lost to.
    busy_jobs: tuple[Backend, ...] = ()


@dataclass(frozen=True)
class ChannelInfo:
    """A queue_job channel as the contract exposes it."""

    name: str
    priority_class: str  # effective class (peak_queue_channel_class)
    pinned: bool
    paused: bool  # the human pause: the governor only reads it


@dataclass(frozen=True)
class LeaseState:
    """A lease this governor holds."""

    channel: str
    since: float  # time.time() when first taken (this episode)
    trickle: bool = False


@dataclass(frozen=True)
class Action:
    """One thing for the actuator to do."""

    kind: str  # "lease" (take or renew), "release", "preempt" (cancel a job)
    channel: str
    reason: str  # machine-friendly: blame, fallback, starvation_guard, calm, ...
    evidence: dict = field(default_factory=dict)
    trickle: bool = False
    pid: int | None = None  # preempt: the job's backend
    job_uuid: str | None = None  # preempt: the job it must still be running


@dataclass(frozen=True)
class Decision:
    """What the policy concluded from one sample."""

    level: str
    previous_level: str
    protected: bool  # inside a fulfillment window while Peak mode is on
    acting: bool  # False: observe only (outside Peak mode and not severe)
    actions: tuple[Action, ...]
    explanation: str  # one human sentence, logged
