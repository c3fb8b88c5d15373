"""The sensor against a real PostgreSQL with real lock waits."""

import psycopg
import pytest
from pg import (
    GOVERNOR_ROLE,
    INTERACTIVE,
    LockScene,
    connect,
    hot_rows,
    job_tag,
    needs_db,
    sql,
)

from peak_governor.sensor import SAMPLE_SQL, Sensor

pytestmark = needs_db


@pytest.fixture
def table():
    with hot_rows() as name:
        yield name


def _sample():
    # As the governor's own role: no pg_monitor, sessions through the
    # contract's peak_queue_sessions() (v5).
    with connect("peak-governor", user=GOVERNOR_ROLE) as conn:
        return Sensor(conn.info.dbname).sample(conn)


def test_calm_database_has_no_waiters(table):
    sample = _sample()
    assert sample.waiters == ()
    assert sample.duration_seconds > 0


def test_waiters_blockers_and_roles_are_seen(table):
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        first = scene.add_waiter(INTERACTIVE)
        second = scene.add_waiter(job_tag("critical", "root.critical"))
        sample = _sample()
    by_pid = {w.backend.pid: w for w in sample.waiters}
    assert set(by_pid) == {first, second}
    assert by_pid[first].backend.role_label == "interactive"
    assert by_pid[second].backend.role_label == "critical"
    assert scene.blocker_pid in by_pid[first].blocker_pids
    blocker = sample.blockers[scene.blocker_pid]
    assert (blocker.role_label, blocker.role.channel) == ("bulk", "root.bulk")
    assert by_pid[first].wait_seconds > 0


def test_truncated_channel_is_resolved_from_queue_job(table):
    long_channel = "root.bulk." + "nightly_inventory_revaluation"
    job_uuid = "6f1c0e2a-9b3d-4c5e-8f7a-0b1c2d3e4f50"
    sql(
        "INSERT INTO queue_job (uuid, name, state, channel, model_name, method_name,"
        " date_created, priority, records, args, kwargs)"
        " VALUES (%s, 'test', 'started', %s, 'res.partner', 'write', now(), 10,"
        " '{}', '[]', '{}')",
        (job_uuid, long_channel),
    )
    try:
        tag = f"pk1|job|bulk|{job_uuid.replace('-', '')}|~tion"
        with LockScene(table, tag) as scene:
            scene.add_waiter(INTERACTIVE)
            sample = _sample()
        blocker = sample.blockers[scene.blocker_pid]
        assert blocker.role.channel == long_channel
        assert not blocker.role.channel_truncated
    finally:
        sql("DELETE FROM queue_job WHERE uuid = %s", (job_uuid,))


def test_blocking_pids_is_only_called_for_waiters():
    # The query plan must filter on wait_event_type before calling the
    # function (it takes every lock-manager partition lock).
    with connect() as conn:
        plan = "\n".join(
            row[0] for row in conn.execute("EXPLAIN (VERBOSE) " + SAMPLE_SQL).fetchall()
        )
    waiting = plan[plan.index("CTE waiting") : plan.index("CTE blocking")]
    assert "pg_blocking_pids" in waiting
    assert "wait_event_type = 'Lock'" in waiting


def test_deadlock_delta_is_never_negative(table):
    with connect("peak-governor", user=GOVERNOR_ROLE) as conn:
        sensor = Sensor(conn.info.dbname)
        sensor.sample(conn)
        sensor._last_deadlocks = 10**9  # as after a statistics reset
        assert sensor.sample(conn).deadlocks_delta == 0


def test_sample_fails_cleanly_when_the_connection_is_gone():
    conn = connect("peak-governor")
    sql("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError):
        Sensor(conn.info.dbname).sample(conn)
    conn.close()


def test_conflicts_are_increments_and_jobs_in_a_transaction_are_busy():
    with connect("peak-governor", user=GOVERNOR_ROLE) as conn:
        sensor = Sensor(conn.info.dbname)
        assert sensor.sample(conn).conflicts_delta == {}  # first look: totals
        for sequence in ("interactive", "interactive", "critical"):
            sql("SELECT nextval(%s::regclass)", (f"peak_queue_conflicts_{sequence}",))
        in_transaction = connect(job_tag("bulk", "root.bulk"), autocommit=False)
        in_transaction.execute("SELECT 1")
        between_jobs = connect(job_tag("bulk", "root.bulk"))
        busy_pid = in_transaction.info.backend_pid
        idle_pid = between_jobs.info.backend_pid
        try:
            sample = sensor.sample(conn)
            sensor._last_conflicts = {"interactive": 10**9}  # as after a restore
            reset = sensor.sample(conn)
        finally:
            in_transaction.close()
            between_jobs.close()
    assert sample.conflicts_delta == {"interactive": 2, "critical": 1}
    busy = {b.pid: b for b in sample.busy_jobs}
    assert busy[busy_pid].role.channel == "root.bulk"
    assert idle_pid not in busy
    assert "interactive" not in reset.conflicts_delta


def test_database_without_conflict_counters_reports_none(table):
    with connect("peak-governor", user=GOVERNOR_ROLE) as conn:
        sensor = Sensor(conn.info.dbname)
        sensor._has_conflicts = False  # as with a peak_queue before contract v3
        sensor.sample(conn)
        assert sensor.sample(conn).conflicts_delta == {}
