"""A real PostgreSQL restart under a running governor.

The shared server of the test run cannot be restarted, so this starts a
private PostgreSQL 15 instance (initdb in a temporary directory, its own
socket and port), loads the Odoo Peak schema of the test database into it,
and restarts it while the governor runs.
"""

import time

import psycopg
import pytest
from peak_dev.pginstance import PrivatePostgres, make_root
from pg import GOVERNOR_ROLE, copy_peak_schema, needs_db
from test_governor import make_config

from peak_governor.daemon import DatabaseGovernor
from peak_governor.metrics import Health

pytestmark = needs_db
PRIVATE_DB = "peak_restart"


@pytest.fixture(scope="module")
def private_pg():
    # Not under pytest's tmp_path: its root is private to the user running
    # the tests, and the postgres user must reach the directory.
    server = PrivatePostgres(make_root("peak-pg-"))
    server.initdb()
    server.pg_ctl("start")
    try:
        with psycopg.connect(server.dsn("postgres"), autocommit=True) as admin:
            admin.execute("CREATE ROLE peak LOGIN")
            admin.execute(f"CREATE ROLE {GOVERNOR_ROLE} LOGIN")
            admin.execute(f"CREATE DATABASE {PRIVATE_DB} OWNER peak")
        copy_peak_schema(server.dsn("peak", PRIVATE_DB))
        yield server
    finally:
        server.destroy()


def _lease_rows(server) -> int:
    with psycopg.connect(server.dsn("peak", PRIVATE_DB)) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM peak_queue_lease) "
            "+ (SELECT count(*) FROM peak_queue_lease_event)"
        ).fetchone()[0]


def test_postgres_restart_reconnects_without_spurious_actions(private_pg):
    config = make_config(
        dsn=private_pg.dsn(GOVERNOR_ROLE, PRIVATE_DB), databases=(PRIVATE_DB,)
    )
    health = Health(config.databases, interval=config.interval)
    governor = DatabaseGovernor(config, PRIVATE_DB, health=health)
    assert governor.cycle().actions == ()
    assert health.ready()

    private_pg.pg_ctl("restart", "-m", "fast")
    decisions = []
    deadline = time.monotonic() + 15
    while not decisions or decisions[-1] is None:
        assert time.monotonic() < deadline, "the governor never reconnected"
        decisions.append(governor.cycle())
        health.beat()  # as the daemon's loop does after every cycle
        time.sleep(0.2)
    assert decisions[-1].actions == (), "nothing to do after a restart"
    assert all(d is None or d.actions == () for d in decisions)
    assert health.ready(), "ready again once reconnected"
    assert _lease_rows(private_pg) == 0, "no lease was taken or released"
    governor.shutdown()


def test_postgres_down_is_not_ready_and_decides_nothing(private_pg):
    config = make_config(
        dsn=private_pg.dsn(GOVERNOR_ROLE, PRIVATE_DB), databases=(PRIVATE_DB,)
    )
    health = Health(config.databases, interval=config.interval)
    governor = DatabaseGovernor(config, PRIVATE_DB, health=health)
    assert governor.cycle() is not None
    private_pg.pg_ctl("stop", "-m", "fast")
    try:
        started = time.monotonic()
        assert governor.cycle() is None
        assert governor.cycle() is None
        assert time.monotonic() - started < 10, "bounded by the connect timeout"
        assert not health.ready()
    finally:
        private_pg.pg_ctl("start")
    assert governor.cycle() is not None
    health.beat()
    assert health.ready()
    governor.shutdown()
