# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""What the governor's and KEDA's PostgreSQL roles may do (docs/db-contract.md,
least privilege). Plain SQL on a DB-API cursor, no ORM: peak_queue runs it at
every install and upgrade, as Odoo's role, which owns every object named here.

Since contract v5 neither role reads an Odoo table but the channels: settings,
jobs and sessions come through the contract's definer functions, which return
only the columns needed. What earlier versions granted is revoked here.
"""

from psycopg2 import sql

#: Tables the governor reads (the contract's own, and the channels).
GOVERNOR_READS = [
    "queue_job_channel",
    "peak_queue_lease",
    "peak_queue_lease_event",
    "peak_queue_governor_leader",
]
#: Granted up to v4: ir_config_parameter holds database.secret (Odoo's HMAC
#: key), queue_job the jobs' arguments and tracebacks.
GOVERNOR_NO_READ = ["ir_config_parameter", "queue_job"]
#: Tables contract v1 let the governor write.
GOVERNOR_NO_WRITE = [
    "peak_queue_lease",
    "peak_queue_lease_event",
    "peak_queue_governor_leader",
]
GOVERNOR_NO_SEQUENCES = ["peak_queue_lease_id_seq", "peak_queue_lease_event_id_seq"]
GOVERNOR_FUNCTIONS = [
    "peak_queue_lease_acquire(text, text, text, jsonb, integer, boolean)",
    "peak_queue_lease_release(text, text, text)",
    "peak_queue_lease_expire()",
    "peak_queue_governor_heartbeat(text, integer, text, text)",
    "peak_queue_governor_resign(text)",
    "peak_queue_job_preempt(integer, text, text, text, jsonb)",
    "peak_queue_conflicts()",
    "peak_queue_settings()",
    "peak_queue_job_channels(text[])",
    "peak_queue_job_durations()",
    "peak_queue_sessions()",
]
#: KEDA's scaler counts queued jobs, and may do nothing else.
KEDA_FUNCTIONS = ["peak_queue_pending_jobs()"]


def role_exists(cr, role: str) -> bool:
    cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cr.fetchone() is not None


def _tables(names):
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _functions(signatures):
    # Signatures are constants of this module, not user input.
    return sql.SQL(", ").join(map(sql.SQL, signatures))


def grant_governor(cr, role: str) -> None:
    """Exactly the governor's grants, whatever earlier versions gave."""
    who = sql.Identifier(role)
    cr.execute(
        sql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(
            _tables(GOVERNOR_NO_WRITE), who
        )
    )
    cr.execute(
        sql.SQL("REVOKE ALL ON SEQUENCE {} FROM {}").format(
            _tables(GOVERNOR_NO_SEQUENCES), who
        )
    )
    cr.execute(
        sql.SQL("REVOKE ALL ON {} FROM {}").format(_tables(GOVERNOR_NO_READ), who)
    )
    cr.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(_tables(GOVERNOR_READS), who))
    cr.execute(
        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
            _functions(GOVERNOR_FUNCTIONS), who
        )
    )


def grant_keda(cr, role: str) -> None:
    """KEDA's role: EXECUTE on the queue-depth count, nothing else."""
    cr.execute(
        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
            _functions(KEDA_FUNCTIONS), sql.Identifier(role)
        )
    )
