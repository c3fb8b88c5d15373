"""Rule: preemption, for the protected work that waits on one job.

A lease cannot help a request that already waits: pausing dispatch does not
free a row a running job holds.  With ``preempt_after`` set (the
``pickers_first`` profile sets 0.1 s; 0 = off, the default), a root blocker
that is a job of a background or bulk channel, blamed as :mod:`.blame` says
(strictly less important than the waiter), and blocking protected work that
has waited at least ``preempt_after`` gets a ``preempt`` action, at any level
the governor acts on, whether or not the wait opened the demand gate.  The
contract's ``peak_queue_job_preempt`` cancels the job's statement if it runs
one, or ends its session if it sits idle in its transaction (PostgreSQL
ignores a cancel then); either way the job's transaction rolls back, the
waiter proceeds, and peak_queue runs the job again later (docs/db-contract.md).
Each job is preempted at most once per :data:`PREEMPT_MEMORY_S`: a job that
blocks again after its retry is left to finish.
"""

from ..attribution import KIND_JOB
from ..model import Action
from .blame import Blame
from .config import PolicyConfig
from .evidence import Cycle, num

#: A job preempted once is not preempted again for this long.
PREEMPT_MEMORY_S = 3600.0
#: Classes whose running jobs may be preempted.
PREEMPTIBLE = ("background", "bulk")
#: Session states a preemption reaches: running a statement (cancelled), or
#: between two statements of its transaction (its session is ended).
PREEMPTIBLE_STATES = ("active", "idle in transaction")


class Preemption:
    def __init__(self, config: PolicyConfig):
        self.after = config.preempt_after
        self._preempted: dict[str, float] = {}  # job uuid -> when

    def choose(self, cycle: Cycle, blame: Blame) -> list[Action]:
        horizon = cycle.now - PREEMPT_MEMORY_S
        self._preempted = {u: t for u, t in self._preempted.items() if t > horizon}
        if not self.after:
            return []
        actions = []
        for pid, (channel, waited) in sorted(blame.blocking.items()):
            backend = cycle.sample.blockers.get(pid)
            if backend is None or waited < self.after:
                continue
            role = backend.role
            if (
                role.kind != KIND_JOB
                or role.priority_class not in PREEMPTIBLE
                or not role.job_uuid
                or backend.state not in PREEMPTIBLE_STATES
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
                "session_state": backend.state,
                "blocked_protected_seconds": num(waited),
                "preempt_after": self.after,
                "statement_seconds": num(backend.query_seconds),
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
