# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Conflict counters (contract v3) on real PostgreSQL and a real Odoo.

The counting helpers get real PostgreSQL errors (raised by the server with the
SQLSTATE Odoo retries on).  The end-to-end tests make a real serialization
failure: a second connection locks a partner row, the request (or job) that
writes it waits, the second connection commits, and REPEATABLE READ refuses
the write; Odoo (or queue_job) retries it and it succeeds.
"""

import json
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.cookiejar import CookieJar

import psycopg2
import pytest

import odoo

from odoo.addons.peak_queue.lib import conflicts
from odoo.addons.peak_queue.tests.test_jobrunner import (  # noqa: F401
    _env,
    _sql,
    _wait_until,
    odoo_server,
)

WAIT_S = 60


def _totals():
    return dict(_sql("SELECT priority_class, conflicts FROM peak_queue_conflicts()"))


def _raise(cr, sqlstate):
    cr.execute(
        f"DO $$ BEGIN RAISE EXCEPTION 'peak test' USING ERRCODE = '{sqlstate}'; END $$"
    )


@pytest.mark.parametrize("sqlstate", sorted(conflicts.CONFLICT_CODES))
def test_a_conflict_is_counted_for_its_class_and_raised_again(sqlstate):
    before = _totals()
    with _env() as env, pytest.raises(psycopg2.OperationalError):
        with conflicts.counted(env.cr, "operational"):
            _raise(env.cr, sqlstate)
    after = _totals()
    assert after["operational"] == before["operational"] + 1
    assert after["interactive"] == before["interactive"]


def test_other_errors_and_unprotected_classes_are_not_counted():
    before = _totals()
    with _env() as env:
        with pytest.raises(psycopg2.Error), conflicts.counted(env.cr, "interactive"):
            _raise(env.cr, "22012")  # division_by_zero: no retry, no conflict
        env.cr.rollback()
        with pytest.raises(psycopg2.Error), conflicts.counted(env.cr, "bulk"):
            _raise(env.cr, "40001")  # bulk work is not protected
        env.cr.rollback()
        assert conflicts.record(env.cr, "bulk") is False
    assert _totals() == before


def test_counting_on_a_dead_connection_never_raises():
    registry = odoo.modules.registry.Registry(odoo.tools.config["db_name"])
    cr = registry.cursor()
    cr.execute("SELECT pg_backend_pid()")
    pid = cr.fetchone()[0]
    _sql("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.2)
    try:
        assert conflicts.record(cr, "interactive") is False
    finally:
        try:
            cr.close()
        except psycopg2.Error:
            pass


# -- end to end: a real serialization failure ---------------------------------


def _partner():
    with _env() as env:
        return env["res.partner"].create({"name": "peak-e2e-conflict"}).id


@contextmanager
def _row_taken_then_committed(partner_id, waiting_on):
    """Lock the partner row; run the body (which starts work that writes it);
    wait until a backend matching ``waiting_on`` (an application_name LIKE
    pattern) waits on the row, then commit a write: that backend's REPEATABLE
    READ transaction gets a serialization failure."""
    _dbname, params = odoo.sql_db.connection_info_for(odoo.tools.config["db_name"])
    conn = psycopg2.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE res_partner SET ref = 'taken' WHERE id = %s", (partner_id,)
            )
            yield
        # Another session: a transaction sees pg_stat_activity as it first read it.
        deadline = time.monotonic() + WAIT_S
        while not _sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND application_name LIKE %s",
            (waiting_on,),
        )[0][0]:
            assert time.monotonic() < deadline, "nobody waited on the row"
            time.sleep(0.05)
        conn.commit()
    finally:
        conn.close()


def _call_kw(port, model, method, args):
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(CookieJar())
    )

    def post(path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            body.encode(),
            {"Content-Type": "application/json"},
        )
        with opener.open(request, timeout=WAIT_S) as response:
            answer = json.loads(response.read())
        assert "error" not in answer, answer["error"]
        return answer["result"]

    db = odoo.tools.config["db_name"]
    post("/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"})
    return post(
        "/web/dataset/call_kw",
        {"model": model, "method": method, "args": args, "kwargs": {}},
    )


def _http_port(proc):
    return int(next(a for a in proc.args if a.startswith("--http-port=")).split("=")[1])


def _write_in_thread(server, partner_id, result):
    """A thread (not started) in which a user writes the partner over
    JSON-RPC; ``result["value"]`` is what Odoo answered."""

    def request():
        result["value"] = _call_kw(
            _http_port(server),
            "res.partner",
            "write",
            [[partner_id], {"ref": "written by the request"}],
        )

    return threading.Thread(target=request)


def test_request_that_loses_its_row_is_counted_and_retried(odoo_server):  # noqa: F811
    partner_id = _partner()
    before = _totals()
    result = {}
    thread = _write_in_thread(odoo_server, partner_id, result)
    with _row_taken_then_committed(partner_id, "pk1|http|res.partner.write"):
        thread.start()
    thread.join(WAIT_S)
    assert result.get("value") is True  # Odoo's retry succeeded
    after = _totals()
    assert after["interactive"] == before["interactive"] + 1
    assert after["operational"] == before["operational"]
    ref = _sql("SELECT ref FROM res_partner WHERE id = %s", (partner_id,))
    assert ref[0][0] == "written by the request"


def test_operational_job_that_loses_its_row_is_counted_and_done(odoo_server):  # noqa: F811
    partner_id = _partner()
    before = _totals()
    with _row_taken_then_committed(partner_id, "pk1|job|operational|%"):
        with _env() as env:
            job = (
                env["res.partner"]
                .browse(partner_id)
                .with_delay(channel="root.operational")
                .write({"ref": "written by the job"})
            )
    _wait_until(
        lambda: _sql("SELECT state FROM queue_job WHERE uuid = %s", (job.uuid,))[0][0]
        == "done",
        WAIT_S,
        "the job that lost its row was never done",
    )
    after = _totals()
    assert after["operational"] == before["operational"] + 1
    assert after["interactive"] == before["interactive"]
    ref = _sql("SELECT ref FROM res_partner WHERE id = %s", (partner_id,))
    assert ref[0][0] == "written by the job"  # after the row's commit


def _waiting(application_name_like):
    return _sql(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND application_name LIKE %s",
        (application_name_like,),
    )[0][0]


def test_a_request_retried_twice_counts_once(odoo_server):  # noqa: F811
    """Two writers take the row in turn: the request loses it twice (Odoo
    retries it twice) and is one conflict, as it is one waiting user."""
    partner_id = _partner()
    before = _totals()
    _dbname, params = odoo.sql_db.connection_info_for(odoo.tools.config["db_name"])
    first = psycopg2.connect(**params)
    second = psycopg2.connect(**dict(params, application_name="peak-test-second"))
    result = {}

    def second_writer():
        with second.cursor() as cur:
            cur.execute(
                "UPDATE res_partner SET ref = 'second' WHERE id = %s", (partner_id,)
            )

    try:
        first.cursor().execute(
            "UPDATE res_partner SET ref = 'first' WHERE id = %s", (partner_id,)
        )
        thread = _write_in_thread(odoo_server, partner_id, result)
        thread.start()
        _wait_until(lambda: _waiting("pk1|http|res.partner.write"), WAIT_S, "no wait")
        queued = threading.Thread(target=second_writer)
        queued.start()  # queues behind the request
        _wait_until(lambda: _waiting("peak-test-second"), WAIT_S, "second not queued")
        first.commit()  # the request fails, the second writer takes the row
        queued.join(WAIT_S)
        _wait_until(
            lambda: _totals()["interactive"] == before["interactive"] + 1,
            WAIT_S,
            "the first conflict was not counted",
        )
        _wait_until(
            lambda: _waiting("pk1|http|res.partner.write"), WAIT_S, "no retry waited"
        )
        second.commit()  # the retry fails too
        thread.join(WAIT_S)
    finally:
        first.close()
        second.close()
    assert result.get("value") is True  # the third try succeeded
    assert _totals()["interactive"] == before["interactive"] + 1
    ref = _sql("SELECT ref FROM res_partner WHERE id = %s", (partner_id,))
    assert ref[0][0] == "written by the request"
