"""Real PostgreSQL helpers for the governor tests (no Odoo registry needed).

They use the throw-away database `make test` creates (PEAK_TEST_DB, with the
suite installed), through the dedicated role; sessions are tagged with the
attribution format so the governor sees interactive work and jobs.
"""

import importlib.util
import os
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

DB = os.environ.get("PEAK_TEST_DB")
needs_db = pytest.mark.skipif(not DB, reason="needs `make test` (PEAK_TEST_DB)")


def dsn(user: str | None = None, database: str | None = None) -> str:
    user = user or os.environ.get("PEAK_DB_USER", "peak")
    parts = [f"dbname={database or DB}", f"user={user}"]
    if os.environ.get("PEAK_DB_HOST"):
        parts.append(f"host={os.environ['PEAK_DB_HOST']}")
    if os.environ.get("PEAK_DB_PORT"):
        parts.append(f"port={os.environ['PEAK_DB_PORT']}")
    return " ".join(parts)


def connect(
    application_name: str = "peak-test",
    user: str | None = None,
    autocommit: bool = True,
    database: str | None = None,
) -> psycopg.Connection:
    conn = psycopg.connect(dsn(user, database), autocommit=autocommit)
    conn.execute(
        "SELECT set_config('application_name', %s, false)", (application_name,)
    )
    return conn


def _addon_attribution():
    """The addon's own tag formatter (pure module, loaded by path)."""
    path = Path(__file__).resolve().parents[1] / "addons/peak_queue/lib/attribution.py"
    spec = importlib.util.spec_from_file_location("peak_queue_attribution", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ATTRIBUTION = _addon_attribution()


def job_tag(priority_class: str, channel: str) -> str:
    """The tag a job of ``channel`` carries, exactly as peak_queue writes it
    (63 bytes at most: long channels keep their tail behind ``~``)."""
    return ATTRIBUTION.format_job_tag(priority_class, str(uuid.uuid4()), channel)


INTERACTIVE = "pk1|http|sale.order.action_confirm"


def superuser() -> psycopg.Connection:
    """The cluster's superuser (PEAK_PG_SUPERUSER), for roles and grants."""
    name = os.environ.get("PEAK_PG_SUPERUSER", "postgres")
    return psycopg.connect(dsn(user=name), autocommit=True)


def grant_roles() -> None:
    """peak_queue's own grants to the governor's and KEDA's roles (those named
    by PEAK_GOVERNOR_ROLE / PEAK_KEDA_ROLE that exist), as at an upgrade."""
    import odoo
    from odoo import SUPERUSER_ID, api

    with odoo.modules.registry.Registry(DB).cursor() as cr:
        api.Environment(cr, SUPERUSER_ID, {})["peak.queue.lease"]._grant_governor_role()


def sql(query: str, params=(), database: str | None = None):
    with connect(database=database) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else None


@contextmanager
def hot_rows(count: int = 3, database: str | None = None):
    """A scratch table of hot rows (stock quants, say)."""
    table = f"peak_hot_{uuid.uuid4().hex[:8]}"
    sql(f"CREATE TABLE {table} (id int PRIMARY KEY, qty int NOT NULL)", (), database)
    sql(
        f"INSERT INTO {table} SELECT g, 100 FROM generate_series(1, %s) g",
        (count,),
        database,
    )
    try:
        yield table
    finally:
        sql(f"DROP TABLE IF EXISTS {table}", (), database)


class LockScene:
    """A blocker holding row locks in an open transaction, and waiters queued
    behind it in threads. Everything is rolled back and closed at exit."""

    def __init__(self, table: str, blocker_tag: str, database: str | None = None):
        self.table = table
        self.database = database
        self.blocker = connect(blocker_tag, autocommit=False, database=database)
        self.blocker.execute(f"UPDATE {table} SET qty = qty - 1 WHERE id = 1")
        self.blocker_pid = self.blocker.info.backend_pid
        self.waiters: list[psycopg.Connection] = []
        self.threads: list[threading.Thread] = []

    def add_waiter(self, tag: str) -> int:
        conn = connect(tag, autocommit=False, database=self.database)
        self.waiters.append(conn)

        def wait():
            try:
                conn.execute(f"UPDATE {self.table} SET qty = qty - 1 WHERE id = 1")
                conn.rollback()
            except psycopg.Error:
                pass

        thread = threading.Thread(target=wait, daemon=True)
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + 5
        pid = conn.info.backend_pid
        while time.monotonic() < deadline:
            rows = sql(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND "
                "wait_event_type = 'Lock'",
                (pid,),
                self.database,
            )
            if rows:
                return pid
            time.sleep(0.05)
        raise AssertionError("waiter never queued on the lock")

    def release(self):
        if not self.blocker.closed:
            self.blocker.rollback()
            self.blocker.close()
        for thread in self.threads:
            thread.join(5)
        for conn in self.waiters:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


#: The governor's least-privilege role for this test run: created in
#: tests/conftest.py (no predefined role), granted the rest by peak_queue.
GOVERNOR_ROLE = f"peak_gov_{DB}"[:63] if DB else "peak_gov"


def copy_peak_schema(target_dsn: str) -> None:
    """Give another database the test database's schema (the contract's
    functions and grants included) and its job channels."""
    schema = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", dsn()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    subprocess.run(
        ["psql", "-q", target_dsn],
        input=schema,
        capture_output=True,
        text=True,
        check=True,
    )
    # The channels, without their audit columns (this copy has no users).
    columns = "id, name, complete_name, parent_id, removal_interval, priority_class"
    with psycopg.connect(target_dsn, autocommit=True) as conn:
        for row in sql(f"SELECT {columns} FROM queue_job_channel ORDER BY id"):
            conn.execute(
                f"INSERT INTO queue_job_channel ({columns}) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                row,
            )


def picker(table: str, waited: list) -> threading.Thread:
    """A protected transaction (tagged interactive) that needs hot row 1 of
    ``table``: started in a thread, appends how long it waited."""

    def pick():
        with connect(INTERACTIVE, autocommit=False) as conn:
            started = time.monotonic()
            conn.execute(f"UPDATE {table} SET qty = qty - 1 WHERE id = 1")
            waited.append(time.monotonic() - started)
            conn.rollback()

    thread = threading.Thread(target=pick, daemon=True)
    thread.start()
    return thread
