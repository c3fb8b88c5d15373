"""A real Odoo job idle in its transaction, preempted through the contract
(v4: its session is terminated), against a real Odoo 18: multi-process
server, queue_job's jobrunner, the governor's role calling the function.

The job creates a partner, takes a hot row's lock and then works in Python
between statements (``time.sleep``), as bulk jobs do: a cancel would not
reach it.  After the termination: the protected transaction queued on the
row proceeds, peak_queue puts the job back pending once, it runs again and
is done once (one partner, one decrement), and the worker keeps serving.
A connection terminated by anyone else is not retried.
"""

import json
import os
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from pg import GOVERNOR_ROLE, connect, hot_rows, needs_db, picker, sql
from test_governor_cli import wait_for

from odoo.addons.peak_queue.tests.test_jobrunner import (  # noqa: F401
    _all_done,
    _enqueue,
    _env,
    odoo_server,
)

pytestmark = needs_db
HOLDER = "gov-preempt-idle"
POLL_S = 0.5


@pytest.fixture(autouse=True, scope="module")
def _forget_holds():
    yield
    sql("DELETE FROM ir_config_parameter WHERE key LIKE 'peak\\_e2e.hold\\_seconds.%%'")


def _hold_key(tag):
    return f"peak_e2e.hold_seconds.{tag}"


def _set_hold(tag, seconds):
    sql(
        "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (_hold_key(tag), str(seconds)),
    )


def _enqueue_idle_holder(table, tag, poll=True, max_retries=5):
    """A bulk job that creates a partner, decrements hot row 1 and then stays
    idle in its transaction for the hold it read at its start: in short
    sleeps with a statement between them (``poll``), or in one sleep."""
    wait = (
        f"for i in range(int(hold / {POLL_S})):\n"
        f"    time.sleep({POLL_S})\n"
        "    env.cr.execute('SELECT 1')\n"
        if poll
        else "time.sleep(hold)\n"
    )
    with _env() as env:
        action = env["ir.actions.server"].create(
            {
                "name": f"peak-e2e idle holder {tag}",
                "model_id": env["ir.model"]._get("res.partner").id,
                "state": "code",
                "code": (
                    'env.cr.execute("SELECT COALESCE((SELECT value::float FROM '
                    f"ir_config_parameter WHERE key = '{_hold_key(tag)}'), 0)\")\n"
                    "hold = env.cr.fetchone()[0]\n"
                    f"env['res.partner'].create({{'name': 'peak-e2e-{tag}'}})\n"
                    "env.flush_all()\n"
                    f"env.cr.execute('UPDATE {table} SET qty = qty - 1 WHERE id = 1')\n"
                    + wait
                ),
            }
        )
        job = action.with_delay(channel="root.bulk", max_retries=max_retries).run()
        return job.uuid


def _idle_backend(job_uuid):
    """The pid of the job's session once it is idle in its transaction
    *after* its UPDATE (idle between earlier statements, it holds no row
    yet, and a picker started then would not queue behind it)."""
    found = []

    def idle():
        found[:] = sql(
            "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' "
            "AND application_name LIKE %s "
            "AND (query = 'SELECT 1' OR query LIKE 'UPDATE %%qty = qty - 1%%')",
            (f"pk1|job|bulk|{job_uuid.replace('-', '')}|%",),
        )
        return bool(found)

    wait_for(idle, 30, "the job never sat idle in its transaction")
    return found[0][0]


def _preempt(pid, job_uuid):
    with connect(user=GOVERNOR_ROLE) as gov:
        return gov.execute(
            "SELECT signal, signal_sent FROM peak_queue_job_preempt("
            "%s, %s, %s, 'preempt', '{}'::jsonb)",
            (pid, job_uuid, HOLDER),
        ).fetchone()


def _job(job_uuid):
    return sql("SELECT state, retry FROM queue_job WHERE uuid = %s", (job_uuid,))[0]


def _partners(tag):
    return sql("SELECT count(*) FROM res_partner WHERE name = %s", (f"peak-e2e-{tag}",))


class _Log:
    """What the Odoo of the fixture logged since this object was made."""

    def __init__(self):
        workdir = Path(os.environ.get("PEAK_TEST_WORKDIR", "/tmp"))
        self.path = workdir / "jobrunner-odoo.log"
        self.start = self.path.stat().st_size

    def text(self):
        with self.path.open("rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace")


def _serves(proc, requests=10, jobs=4):
    """Both workers still answer requests that use the database, and run
    jobs."""
    port = next(a.split("=")[1] for a in proc.args if a.startswith("--http-port="))
    for _i in range(requests):
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/web/login", timeout=10
        ) as response:
            assert response.status == 200
    names = _enqueue("root.bulk", jobs)
    wait_for(_all_done(names), 60, "the workers stopped running jobs")


def test_idle_job_terminated_by_the_governor_is_retried_and_done_once(odoo_server):  # noqa: F811
    tag = uuid.uuid4().hex[:8]
    log = _Log()
    waited: list[float] = []
    with hot_rows() as table:
        _set_hold(tag, 120)
        job_uuid = _enqueue_idle_holder(table, tag)
        pid = _idle_backend(job_uuid)
        pick = picker(table, waited)
        wait_for(
            lambda: sql(
                "SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                (pid,),
            ),
            10,
            "the picker never queued behind the job",
        )
        preempted_at = time.monotonic()
        assert _preempt(pid, job_uuid) == ("terminate", True)
        _set_hold(tag, 0)  # the retry is quick
        pick.join(10)
        assert waited, "the picker was never freed"
        assert time.monotonic() - preempted_at < 5, "the picker waited on"
        wait_for(_all_done([job_uuid]), 60, "the preempted job never ran again")
        qty = sql(f"SELECT qty FROM {table} WHERE id = 1")[0][0]
    assert _job(job_uuid) == ("done", 1), "ran twice, the preempted run not counted"
    assert _partners(tag) == [(1,)], "the terminated run's partner was rolled back"
    assert qty == 99, "the row was decremented once (the picker rolled back)"
    [(evidence,)] = sql(
        "SELECT evidence FROM peak_queue_lease_event WHERE holder = %s "
        "AND action = 'preempted' AND evidence->>'job_uuid' = %s",
        (HOLDER, job_uuid),
    )
    assert (evidence["signal"], evidence["pid"]) == ("terminate", pid)
    _serves(odoo_server)
    text = log.text()
    assert f"job {job_uuid} preempted (backend {pid}, idle in its transaction" in text
    assert "Traceback" not in text, text[-3000:]


def test_a_run_the_jobrunner_requeued_first_is_not_retried_again(odoo_server):  # noqa: F811
    """The dead session released the job's lock: queue_job's dead-job
    requeuer may put it back (10 s after it was enqueued) and run it again
    while the terminated run still sleeps. That is the one retry."""
    tag = uuid.uuid4().hex[:8]
    log = _Log()
    with hot_rows() as table:
        _set_hold(tag, 25)
        job_uuid = _enqueue_idle_holder(table, tag, poll=False)
        pid = _idle_backend(job_uuid)
        assert _preempt(pid, job_uuid) == ("terminate", True)
        _set_hold(tag, 0)

        deadline = time.monotonic() + 30
        while _job(job_uuid) == ("started", 0):
            assert time.monotonic() < deadline, "the jobrunner never requeued it"
            _enqueue("root.background", 1)  # wakes the jobrunner up
            time.sleep(1)
        wait_for(_all_done([job_uuid]), 60, "the requeued job never ran")
        wait_for(
            lambda: "already requeued by the jobrunner" in log.text(),
            40,
            "the terminated run never woke up",
        )
        time.sleep(2)
        qty = sql(f"SELECT qty FROM {table} WHERE id = 1")[0][0]
    assert _job(job_uuid) == ("done", 2), "requeued once, then done"
    assert _partners(tag) == [(1,)]
    assert qty == 99
    assert "Traceback" not in log.text()


def test_a_connection_terminated_by_someone_else_is_not_retried(odoo_server):  # noqa: F811
    tag = uuid.uuid4().hex[:8]
    with hot_rows() as table:
        _set_hold(tag, 120)
        job_uuid = _enqueue_idle_holder(table, tag)
        pid = _idle_backend(job_uuid)
        # The governor terminated *another* run of this job: no proof here.
        sql(
            "INSERT INTO peak_queue_lease_event (channel_name, action, holder, "
            "reason, evidence, create_date, write_date) VALUES ('root.bulk', "
            "'preempted', %s, 'preempt', %s, now() AT TIME ZONE 'utc', "
            "now() AT TIME ZONE 'utc')",
            (
                HOLDER,
                json.dumps(
                    {"signal": "terminate", "job_uuid": job_uuid, "pid": pid + 1}
                ),
            ),
        )
        # Odoo's own role may end its own sessions (no pg_signal_backend).
        assert sql("SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
        _set_hold(tag, 0)
        wait_for(lambda: _job(job_uuid)[0] != "started", 30, "the job never ended")
        time.sleep(3)
        qty = sql(f"SELECT qty FROM {table} WHERE id = 1")[0][0]
    assert _job(job_uuid) == ("failed", 1), "queue_job failed it, as before"
    assert _partners(tag) == [(0,)] and qty == 100, "nothing of it was kept"
    _serves(odoo_server, requests=4, jobs=2)


def test_a_preempted_run_does_not_use_up_max_retries(odoo_server):  # noqa: F811
    """The bench saw it: a job that had used its tries on serialization
    failures and was then preempted ended failed. The job did nothing wrong;
    the contract's once-an-hour bound is what stops repeated preemption."""
    tag = uuid.uuid4().hex[:8]
    with hot_rows() as table:
        _set_hold(tag, 120)
        job_uuid = _enqueue_idle_holder(table, tag, max_retries=1)
        pid = _idle_backend(job_uuid)
        assert _preempt(pid, job_uuid) == ("terminate", True)
        _set_hold(tag, 6)  # its retry holds the row again: a second preemption...
        pid = _idle_backend(job_uuid)
        with pytest.raises(Exception, match="preempted less than an hour ago"):
            _preempt(pid, job_uuid)  # ...is refused by the contract
        wait_for(_all_done([job_uuid]), 60, "the preempted job never ran again")
    assert _job(job_uuid) == ("done", 1), "its one try was not used up"
    assert _partners(tag) == [(1,)]


def test_pickers_first_frees_a_lone_picker_from_an_idle_job(odoo_server):  # noqa: F811
    """The whole loop: the governor with the pickers_first profile sees one
    picker wait on a bulk job idle in its transaction, takes no lease (one
    waiter is no wave) and preempts the job; the job runs again, once."""
    from test_governor import make_config, set_peak

    from peak_governor.daemon import run
    from peak_governor.policy import PolicyConfig, with_profile

    tag = uuid.uuid4().hex[:8]
    waited: list[float] = []
    set_peak(protected=True)
    config = make_config(
        policy=with_profile(PolicyConfig(), "pickers_first"),
        instance_id=f"gov-pickers-first-{tag}",
    )
    stop = threading.Event()
    loop = threading.Thread(target=run, args=(config, stop), daemon=True)
    try:
        with hot_rows() as table:
            _set_hold(tag, 120)
            job_uuid = _enqueue_idle_holder(table, tag)
            _idle_backend(job_uuid)
            loop.start()
            pick = picker(table, waited)
            wait_for(lambda: bool(waited), 15, "the picker was never freed")
            _set_hold(tag, 0)
            pick.join(5)
            wait_for(_all_done([job_uuid]), 60, "the preempted job never ran again")
            qty = sql(f"SELECT qty FROM {table} WHERE id = 1")[0][0]
    finally:
        stop.set()
        if loop.is_alive():
            loop.join(10)
        sql("SELECT peak_queue_lease_release(NULL, NULL, 'test cleanup')")
        sql("DELETE FROM peak_queue_governor_leader")
    assert waited[0] < 5, f"the picker waited {waited[0]:.1f} s"
    assert _job(job_uuid) == ("done", 1), "preempted once, then done"
    assert _partners(tag) == [(1,)] and qty == 99, "its work applied once"
    events = sql(
        "SELECT action, evidence->>'signal' FROM peak_queue_lease_event "
        "WHERE holder = %s ORDER BY id",
        (config.instance_id,),
    )
    assert events == [("preempted", "terminate")], "no lease for a lone wait"
