# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Leases against a real Odoo: multi-process server, queue_job's jobrunner.

The only other process is that Odoo (no governor, no cron): leases must hold
and end inside queue_job's own jobrunner. Data is committed (the jobrunner
reads it from another connection) and removed afterwards.
"""

import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

import odoo
from odoo import SUPERUSER_ID, api

pytestmark = pytest.mark.skipif(
    not os.environ.get("PEAK_TEST_ODOO_CONFIG"),
    reason="needs `make test` (PEAK_TEST_ODOO_CONFIG): starts its own Odoo",
)

READY_TIMEOUT_S = 120
LEASE_END_SLACK_S = 5  # the bound: a lease stops holding within 5 s


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _env():
    registry = odoo.modules.registry.Registry(odoo.tools.config["db_name"])
    with registry.cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, {})
        cr.commit()


@pytest.fixture(scope="module")
def odoo_server():
    """Odoo with 2 HTTP workers and the jobrunner, on free loopback ports."""
    db_name = odoo.tools.config["db_name"]
    workdir = Path(os.environ.get("PEAK_TEST_WORKDIR", "/tmp"))
    log_path = workdir / "jobrunner-odoo.log"
    port = _free_port()
    argv = [
        sys.executable,
        odoo.tools.config["root_path"] + "/../odoo-bin",
        "-c",
        os.environ["PEAK_TEST_ODOO_CONFIG"],
        "-d",
        db_name,
        "--workers=2",
        "--max-cron-threads=0",
        f"--http-port={port}",
        f"--gevent-port={_free_port()}",
        "--http-interface=127.0.0.1",
        "--log-level=info",
    ]
    env = dict(os.environ, ODOO_QUEUE_JOB_MAX_CAPACITY="4")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while f"queue job runner ready for db {db_name}" not in log_path.read_text(
            errors="replace"
        ):
            assert proc.poll() is None, f"Odoo exited, see {log_path}"
            assert time.monotonic() < deadline, f"jobrunner not ready, see {log_path}"
            time.sleep(0.3)
        # The jobrunner may be ready before the HTTP workers listen.
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/web/health", timeout=10
                )
                break
            except OSError:
                assert proc.poll() is None, f"Odoo exited, see {log_path}"
                assert time.monotonic() < deadline, f"HTTP never up, see {log_path}"
                time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        with _env() as env:
            env["queue.job"].search([("channel", "like", "root.%")]).unlink()
            env["res.partner"].search([("name", "=like", "peak-e2e-%")]).unlink()
            env.cr.execute("DELETE FROM peak_queue_lease_event")
            env.cr.execute("DELETE FROM peak_queue_lease")
            env["queue.job.channel"].search(
                [("complete_name", "=", "root.bulk")]
            ).write({"capacity": 1, "paused": False})


def _enqueue(channel: str, count: int) -> list[str]:
    """Jobs that create one partner each (named after the job's uuid), so that
    "ran exactly once" can be counted. Returns the job uuids."""
    uuids = []
    with _env() as env:
        for _i in range(count):
            job_uuid = str(uuid.uuid4())
            job = env["res.partner"].with_delay(channel=channel)
            uuids.append(job.create({"name": f"peak-e2e-{job_uuid}"}).uuid)
    return uuids


def _states(uuids: list[str]) -> dict[str, str]:
    return dict(
        _sql("SELECT uuid, state FROM queue_job WHERE uuid IN %s", (tuple(uuids),))
    )


def _wait_until(predicate, timeout_s: float, message: str):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def _sql(query: str, params=()):
    with _env() as env:
        env.cr.execute(query, params)
        return env.cr.fetchall() if env.cr.description else None


def _lease(channel: str, ttl: int, holder: str = "e2e"):
    return _sql(
        "SELECT * FROM peak_queue_lease_acquire(%s, %s, 'e2e test', '{}'::jsonb, %s)",
        (channel, holder, ttl),
    )[0]


def _release(channel: str, holder: str | None = None):
    return _sql("SELECT peak_queue_lease_release(%s, %s, 'e2e')", (channel, holder))


def _set_channel(name: str, **values):
    with _env() as env:
        env["queue.job.channel"].search([("complete_name", "=", name)]).write(values)


def _all_done(names):
    return lambda: set(_states(names).values()) == {"done"}


def test_leased_channel_starts_nothing_until_the_lease_expires(odoo_server):
    lease_id, _expires_at, _renewed = _lease("root.bulk", ttl=6)
    lease_end = time.monotonic() + 6
    names = _enqueue("root.bulk", 3)
    time.sleep(3)
    assert set(_states(names).values()) == {"pending"}
    assert odoo_server.poll() is None
    # Nobody releases it: the jobrunner alone must resume the channel.
    _wait_until(
        _all_done(names),
        lease_end - time.monotonic() + LEASE_END_SLACK_S + 10,
        "jobs did not run after the lease expired",
    )
    rows = _sql(
        "SELECT min(date_started) >= (SELECT expires_at FROM peak_queue_lease "
        "WHERE id = %s) - interval '1 second' FROM queue_job WHERE uuid IN %s",
        (lease_id, tuple(names)),
    )
    assert rows[0][0], "a job started before the lease expired"


def test_manual_pause_and_lease_combine(odoo_server):
    _set_channel("root.bulk", paused=True)
    _lease("root.bulk", ttl=120)
    names = _enqueue("root.bulk", 2)
    _release("root.bulk")  # the manual pause still holds
    time.sleep(2.5)
    assert set(_states(names).values()) == {"pending"}
    _lease("root.bulk", ttl=120)
    _set_channel("root.bulk", paused=False)  # the lease still holds
    time.sleep(2.5)
    assert set(_states(names).values()) == {"pending"}
    _release("root.bulk")
    _wait_until(_all_done(names), 30, "jobs did not run once both were lifted")


def test_leased_channel_of_capacity_zero_starts_nothing(odoo_server):
    # queue_job reads capacity 0 as "unlimited".
    _set_channel("root.bulk", capacity=0)
    _lease("root.bulk", ttl=120)
    names = _enqueue("root.bulk", 3)
    time.sleep(3)
    assert set(_states(names).values()) == {"pending"}
    _release("root.bulk")
    _wait_until(_all_done(names), 30, "jobs did not run after release")
    _set_channel("root.bulk", capacity=1)


def test_random_lease_cycles_lose_no_job_and_run_each_once(odoo_server):
    rng = random.Random(20261126)
    names = []
    for cycle in range(500):
        action = rng.random()
        if action < 0.45:
            _lease(
                "root.bulk", ttl=rng.randint(1, 3), holder=f"gov-{rng.randint(1, 2)}"
            )
        elif action < 0.9:
            _release("root.bulk", holder=rng.choice([None, "gov-1", "gov-2"]))
        if cycle % 5 == 0:
            names += _enqueue("root.bulk", 1)
        time.sleep(rng.uniform(0, 0.02))
    _release("root.bulk")
    _wait_until(_all_done(names), 120, "not every job ran after the cycles")
    # The partner name embeds a per-job token: one partner per job, no more.
    partners = _sql(
        "SELECT count(*), count(DISTINCT name) FROM res_partner "
        "WHERE name LIKE 'peak-e2e-%%' AND create_date > now() - interval '1 hour'"
    )[0]
    assert partners[0] == partners[1], "a job ran twice"
    assert len(_states(names)) == len(names), "a job was lost"
