"""One look at a database's lock contention: one query, a few milliseconds.

``pg_blocking_pids()`` takes every lock-manager partition lock, so it is called
only for backends already waiting on a heavyweight lock (the ``WHERE`` of the
``waiting`` CTE filters rows before the function runs). Blockers are then
looked up by pid; the roles come from ``application_name`` (contract ``pk1``).

Real Odoo flows mostly collide without waiting: the loser of a row gets a
serialization failure and Odoo retries it after a sleep.  Those conflicts are
counted by peak_queue (contract v3, ``peak_queue_conflicts()``); the sensor
reports their increments and the jobs inside a transaction (``busy``), the
ones a conflict can have lost to.
"""

import dataclasses
import json
import time

from . import attribution, contract
from .model import Activity, Backend, Sample, Waiter

SAMPLE_SQL = """
WITH sessions AS MATERIALIZED (
    -- This database's sessions without their query text (contract v5): the
    -- governor's role is not a member of pg_monitor.
    SELECT * FROM peak_queue_sessions()
), waiting AS (
    SELECT a.pid, a.application_name, a.state,
           EXTRACT(EPOCH FROM clock_timestamp() - a.query_start)::float8 AS query_s,
           EXTRACT(EPOCH FROM clock_timestamp() - (
               SELECT min(l.waitstart) FROM pg_locks l
                WHERE l.pid = a.pid AND NOT l.granted))::float8 AS wait_s,
           pg_blocking_pids(a.pid) AS blockers
      FROM sessions a
     WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
), blocking AS (
    SELECT a.pid, a.application_name, a.state,
           EXTRACT(EPOCH FROM clock_timestamp() - a.query_start)::float8 AS query_s
      FROM sessions a
     WHERE a.pid IN (SELECT unnest(blockers) FROM waiting)
), busy AS (
    -- Jobs inside a transaction: the suspects of a conflict (conflicts.py).
    SELECT a.pid, a.application_name, a.state,
           EXTRACT(EPOCH FROM clock_timestamp() - a.query_start)::float8 AS query_s
      FROM sessions a
     WHERE a.xact_start IS NOT NULL
       AND a.application_name LIKE 'pk1|job|%'
), demand AS (
    -- Protected work (requests, critical and operational jobs), running or
    -- last run: the policy keeps leases while it goes on (demand-aware hold).
    SELECT a.pid, EXTRACT(EPOCH FROM a.state_change)::float8 AS changed_at,
           EXTRACT(EPOCH FROM clock_timestamp() - a.state_change)::float8 AS age_s,
           a.state <> 'idle' AS active
      FROM sessions a
     WHERE a.state_change IS NOT NULL
       AND (a.application_name LIKE 'pk1|http|%'
            OR a.application_name LIKE 'pk1|job|critical|%'
            OR a.application_name LIKE 'pk1|job|operational|%')
)
SELECT (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()),
       COALESCE((SELECT json_agg(waiting) FROM waiting), '[]'::json),
       COALESCE((SELECT json_agg(blocking) FROM blocking), '[]'::json),
       COALESCE((SELECT json_agg(demand) FROM demand), '[]'::json),
       COALESCE((SELECT json_agg(busy) FROM busy), '[]'::json)
"""
HAS_CONFLICTS_SQL = "SELECT to_regprocedure('peak_queue_conflicts()') IS NOT NULL"


def _backend(row: dict) -> Backend:
    role = attribution.parse_application_name(row.get("application_name"))
    return Backend(
        pid=int(row["pid"]),
        role=role,
        role_label=attribution.role_label(role),
        state=row.get("state") or "",
        query_seconds=max(0.0, float(row.get("query_s") or 0.0)),
    )


def _as_list(value) -> list:
    return json.loads(value) if isinstance(value, str) else list(value or [])


class Sensor:
    """Samples one database through an open psycopg connection."""

    def __init__(self, database: str):
        self.database = database
        self._last_deadlocks: int | None = None
        self._last_conflicts: dict[str, int] | None = None
        self._has_conflicts: bool | None = None  # peak_queue older than v3

    def sample(self, conn) -> Sample:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(SAMPLE_SQL)
            deadlocks, waiting_rows, blocking_rows, demand_rows, busy_rows = (
                cur.fetchone()
            )
        conflicts = self._conflicts_delta(conn)
        duration = time.perf_counter() - started
        waiters = tuple(
            Waiter(
                backend=_backend(row),
                wait_seconds=max(0.0, float(row.get("wait_s") or 0.0)),
                blocker_pids=tuple(int(pid) for pid in row.get("blockers") or ()),
            )
            for row in _as_list(waiting_rows)
        )
        blockers = {b.pid: b for b in map(_backend, _as_list(blocking_rows))}
        blockers = self._resolve_truncated_channels(conn, blockers)
        deadlocks = int(deadlocks or 0)
        # A server restart resets the counter: never report a negative delta.
        delta = (
            0
            if self._last_deadlocks is None
            else max(0, deadlocks - self._last_deadlocks)
        )
        self._last_deadlocks = deadlocks
        return Sample(
            database=self.database,
            taken_at=time.time(),
            waiters=waiters,
            blockers=blockers,
            deadlocks_total=deadlocks,
            deadlocks_delta=delta,
            duration_seconds=duration,
            protected_activity=tuple(
                Activity(
                    pid=int(row["pid"]),
                    changed_at=float(row["changed_at"]),
                    age_seconds=max(0.0, float(row.get("age_s") or 0.0)),
                    active=bool(row.get("active")),
                )
                for row in _as_list(demand_rows)
            ),
            conflicts_delta=conflicts,
            busy_jobs=tuple(map(_backend, _as_list(busy_rows))),
        )

    def _conflicts_delta(self, conn) -> dict[str, int]:
        """Conflicts per protected class since the previous sample; nothing
        on the first sample or when this database has no counters."""
        with conn.cursor() as cur:
            if self._has_conflicts is None:
                cur.execute(HAS_CONFLICTS_SQL)
                self._has_conflicts = bool(cur.fetchone()[0])
            if not self._has_conflicts:
                return {}
            cur.execute(contract.CONFLICTS_SQL)
            totals = {str(cls): int(n or 0) for cls, n in cur.fetchall()}
        previous, self._last_conflicts = self._last_conflicts, totals
        if previous is None:
            return {}
        # A counter reset (reinstall, restore) never gives a negative delta.
        return {
            cls: total - previous.get(cls, 0)
            for cls, total in totals.items()
            if total > previous.get(cls, 0)
        }

    @staticmethod
    def _resolve_truncated_channels(conn, blockers: dict[int, Backend]) -> dict:
        """A tag keeps only the tail of a long channel name: read the full name
        from queue_job (only when some blocker needs it)."""
        truncated = {
            b.role.job_uuid: pid
            for pid, b in blockers.items()
            if b.role.channel_truncated and b.role.job_uuid
        }
        if not truncated:
            return blockers
        with conn.cursor() as cur:
            cur.execute(contract.JOB_CHANNEL_SQL, (list(truncated),))
            full = dict(cur.fetchall())
        resolved = dict(blockers)
        for job_uuid, pid in truncated.items():
            if job_uuid in full:
                backend = blockers[pid]
                role = dataclasses.replace(
                    backend.role, channel=full[job_uuid], channel_truncated=False
                )
                resolved[pid] = dataclasses.replace(backend, role=role)
        return resolved
