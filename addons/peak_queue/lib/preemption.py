# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""A job whose session the governor terminated (contract v4), told apart
from a job that lost its connection for any other reason.

``peak_queue_job_preempt`` terminates a job's session when it is idle in its
transaction (a cancel would not reach it).  The job only notices at its next
statement, and psycopg2 gives no reliable SQLSTATE for it: "server closed the
connection unexpectedly" (an ``OperationalError`` without pgcode) when the
session was idle, ``AdminShutdown`` (57P01) when it had just started a
statement, ``InterfaceError`` once the connection is marked closed.  So the
proof is the contract's own record: the 'preempted' event with signal
``terminate`` for this job uuid and this very backend pid, written during
this run.  Anything else (a crash, a DBA's pg_terminate_backend, a network
cut) stays as queue_job handles it.
"""

from datetime import timedelta

import psycopg2

#: Odoo stamps the run's start with its own clock, the event has the
#: database's: clocks this far apart still match a run to its event.
CLOCK_SKEW = timedelta(seconds=60)

# The event is looked up by uuid and pid, so an old one (a pid reused by a
# later run) cannot match a run it did not end.
TERMINATED_EVENT_SQL = """
SELECT id FROM peak_queue_lease_event
 WHERE action = 'preempted' AND evidence->>'signal' = 'terminate'
   AND evidence->>'job_uuid' = %s AND evidence->>'pid' = %s
   AND create_date >= %s
 ORDER BY id DESC LIMIT 1
"""

# Still this run's: 'started' with the retry count it was acquired with.  The
# dead session released the job's lock, so queue_job's dead-job requeuer may
# already have set it pending (retry + 1) and even run it again; the row lock
# keeps it from doing so until this transaction ends.
LOCK_RUN_SQL = """
SELECT 1 FROM queue_job
 WHERE uuid = %s AND state = 'started' AND retry IS NOT DISTINCT FROM %s
   FOR UPDATE
"""


def dead_backend(sessions) -> int | None:
    """The backend pid of the first of ``sessions`` (psycopg2 connection,
    pid) whose connection is broken, None if all are alive."""
    for connection, pid in sessions:
        if getattr(connection, "closed", 0):
            return pid
    return None


def lost_connection(exc) -> bool:
    """Whether ``exc`` may come from a dead connection (see the module doc:
    which of these it is depends on timing, so the connection decides)."""
    return isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError)


def terminating_event(cr, job_uuid: str, pid: int, run_started) -> int | None:
    """The id of the contract's event for the termination of backend ``pid``
    while it ran job ``job_uuid`` (a run started at ``run_started``)."""
    cr.execute(TERMINATED_EVENT_SQL, (job_uuid, str(pid), run_started - CLOCK_SKEW))
    row = cr.fetchone()
    return row[0] if row else None


def lock_run(cr, job_uuid: str, stored_retry: int) -> bool:
    """Lock the job's row if it is still the run that lost its session."""
    cr.execute(LOCK_RUN_SQL, (job_uuid, stored_retry))
    return cr.fetchone() is not None
