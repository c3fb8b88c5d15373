"""peak_queue_job_preempt (contract v4) on real sessions, called as the
governor's role: which signal for which session, and what it refuses.

The sessions are plain PostgreSQL sessions tagged as a job run exactly as
peak_queue tags one; the jobs are real queue_job rows in state 'started'
(created through Odoo, never picked by a jobrunner: they are not pending).
"""

import threading
import time
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from pg import ATTRIBUTION, GOVERNOR_ROLE, INTERACTIVE, connect, needs_db, sql

from odoo.addons.peak_queue.tests.test_jobrunner import _env

pytestmark = needs_db
HOLDER = "preempt-contract-test"
PREEMPT = (
    "SELECT signal, signal_sent FROM peak_queue_job_preempt("
    "%s, %s, %s, 'preempt', '{\"test\": true}'::jsonb)"
)


@contextmanager
def started_jobs(*channels):
    """One queue_job row per channel, in state 'started' as while it runs."""
    uuids = []
    with _env() as env:
        for channel in channels:
            job = env["res.partner"].with_delay(channel=channel)
            uuids.append(job.create({"name": f"peak-e2e-{uuid.uuid4()}"}).uuid)
        env.cr.execute(
            "UPDATE queue_job SET state = 'started', date_started = "
            "now() AT TIME ZONE 'utc' WHERE uuid = ANY(%s)",
            (uuids,),
        )
    try:
        yield uuids
    finally:
        sql("DELETE FROM queue_job WHERE uuid = ANY(%s)", (uuids,))
        sql("DELETE FROM peak_queue_lease_event WHERE holder = %s", (HOLDER,))


def job_session(priority_class, job_uuid, channel, in_transaction=True):
    """A session tagged as that job's run; idle in its transaction unless
    told otherwise."""
    tag = ATTRIBUTION.format_job_tag(priority_class, job_uuid, channel)
    conn = connect(tag, autocommit=not in_transaction)
    if in_transaction:
        conn.commit()  # the tag outlives an aborted transaction
        conn.execute("SELECT 1")
    return conn


def preempt(pid, job_uuid):
    with connect(user=GOVERNOR_ROLE) as gov:
        return gov.execute(PREEMPT, (pid, job_uuid, HOLDER)).fetchone()


def state_of(pid):
    rows = sql("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,))
    return rows[0][0] if rows else None


def test_a_job_idle_in_its_transaction_is_terminated():
    with started_jobs("root.bulk") as (job_uuid,):
        session = job_session("bulk", job_uuid, "root.bulk")
        pid = session.info.backend_pid
        assert state_of(pid) == "idle in transaction"
        assert preempt(pid, job_uuid) == ("terminate", True)
        deadline = time.monotonic() + 5
        while state_of(pid) is not None:
            assert time.monotonic() < deadline, "the session survived"
            time.sleep(0.05)
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
        [(evidence,)] = sql(
            "SELECT evidence FROM peak_queue_lease_event "
            "WHERE holder = %s AND action = 'preempted'",
            (HOLDER,),
        )
        assert evidence["test"] is True
        assert (evidence["signal"], evidence["signal_sent"]) == ("terminate", True)
        assert (evidence["pid"], evidence["job_uuid"]) == (pid, job_uuid)


def test_a_job_running_a_statement_has_it_cancelled_and_keeps_its_session():
    with started_jobs("root.background") as (job_uuid,):
        session = job_session("background", job_uuid, "root.background")
        pid = session.info.backend_pid
        errors = []

        def run():
            try:
                session.execute("SELECT pg_sleep(30)")
            except psycopg.Error as exc:
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 5
        while state_of(pid) != "active":
            assert time.monotonic() < deadline, "the statement never started"
            time.sleep(0.05)
        assert preempt(pid, job_uuid) == ("cancel", True)
        thread.join(10)
        assert [type(e) for e in errors] == [psycopg.errors.QueryCanceled]
        session.rollback()
        assert session.execute("SELECT 1").fetchone() == (1,), "the session lives"
        session.close()


def test_what_is_never_signalled():
    with started_jobs("root.critical", "root.operational", "root.bulk") as uuids:
        critical, operational, bulk = uuids
        other_bulk_session = connect(
            ATTRIBUTION.format_job_tag("bulk", str(uuid.uuid4()), "root.bulk"),
            autocommit=False,
        )
        other_bulk_session.execute("SELECT 1")
        aborted = job_session("bulk", bulk, "root.bulk")
        with pytest.raises(psycopg.errors.DivisionByZero):
            aborted.execute("SELECT 1 / 0")
        request = connect(INTERACTIVE, autocommit=False)
        request.execute("SELECT 1")
        cases = [
            (job_session("critical", critical, "root.critical"), critical, "critical"),
            (
                job_session("operational", operational, "root.operational"),
                operational,
                "operational",
            ),
            # A session tagged as another job (a pid reused since), or the
            # right job in an idle session (its run is over).
            (other_bulk_session, bulk, "not running"),
            (job_session("bulk", bulk, "root.bulk", False), bulk, "not running"),
            (request, bulk, "not running"),
            (aborted, bulk, "neither running a statement nor idle"),
        ]
        for session, job_uuid, refusal in cases:
            pid = session.info.backend_pid
            with pytest.raises(psycopg.errors.InvalidParameterValue, match=refusal):
                preempt(pid, job_uuid)
            assert state_of(pid) is not None, f"{refusal}: the session was hit"
            session.close()
        assert not sql(
            "SELECT 1 FROM peak_queue_lease_event WHERE holder = %s", (HOLDER,)
        ), "a refused preemption left an event"


def test_the_governor_cannot_signal_odoo_sessions_itself():
    with started_jobs("root.bulk") as (job_uuid,):
        session = job_session("bulk", job_uuid, "root.bulk")
        pid = session.info.backend_pid
        with connect(user=GOVERNOR_ROLE) as gov:
            for function in ("pg_terminate_backend", "pg_cancel_backend"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    gov.execute(f"SELECT {function}(%s)", (pid,))
        assert state_of(pid) == "idle in transaction"
        session.close()
