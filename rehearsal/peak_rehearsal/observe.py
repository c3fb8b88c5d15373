"""What the rehearsal watches while it runs, besides the users' own timings.

- ``QueueWatch``: queue_job backlog per priority class, through the
  ``peak.rehearsal.job_stats`` RPC (no database access needed).
- ``LockWatch``: who waits on whom in PostgreSQL (``pg_locks`` and
  ``pg_stat_activity``), when a DSN of a role with ``pg_monitor`` is given.
  The sessions' ``application_name`` (peak_queue's attribution tags) names
  the HTTP route or the job channel, and query texts are reduced to their
  shape (literals out), so the report says *which Odoo code paths* contend.
"""

import calendar
import logging
import re
import time
from collections import defaultdict

from .errors import RehearsalError

_logger = logging.getLogger(__name__)

LOCK_WAITS_SQL = """
SELECT w.application_name,
       extract(epoch FROM now() - l.waitstart),
       w.query,
       b.application_name,
       b.state,
       b.query,
       l.locktype,
       CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END
  FROM pg_stat_activity w
  JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted
  CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
  JOIN pg_stat_activity b ON b.pid = blocker.pid
 WHERE w.wait_event_type = 'Lock' AND w.datname = current_database()
"""
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
_SPACES = re.compile(r"\s+")
_IN_LISTS = re.compile(r"\((?:\s*\?\s*,)+\s*\?\s*\)")
SHAPE_CHARS = 160


def query_shape(query):
    """A query without its literal values, short enough for a table."""
    text = _SPACES.sub(" ", _LITERALS.sub("?", query or "")).strip()
    return _IN_LISTS.sub("(?...)", text)[:SHAPE_CHARS]


def session_label(application_name):
    """``pk1|job|bulk|<uuid>|root.bulk`` -> ``job bulk root.bulk``; an http
    tag keeps its label; anything else (the governor, psql) as it is."""
    parts = (application_name or "").split("|")
    if len(parts) >= 3 and parts[0] == "pk1":
        if parts[1] == "job" and len(parts) == 5:
            return f"job {parts[2]} {parts[4]}"
        return " ".join(parts[1:3])
    return application_name or "?"


class LockWatch:
    """Aggregates lock waits by (waiter, blocker, relation, query shapes)."""

    def __init__(self, dsn):
        import psycopg

        try:
            self.connection = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            message = " ".join(str(exc).split())
            raise RehearsalError(
                f"cannot sample lock waits with --dsn: {message}"
            ) from None
        self.connection.execute("SET statement_timeout = '2s'")
        self.samples = 0
        self.waits = 0
        self.rollbacks_at_start = self._rollbacks()
        self.groups = defaultdict(lambda: {"samples": 0, "max_wait_s": 0.0})

    def sample(self):
        rows = self.connection.execute(LOCK_WAITS_SQL).fetchall()
        self.samples += 1
        self.waits += len(rows)
        for waiter, wait_s, query, blocker, state, blocker_query, locktype, rel in rows:
            key = (
                session_label(waiter),
                session_label(blocker),
                state or "?",
                rel or locktype,
                query_shape(query),
                query_shape(blocker_query),
            )
            group = self.groups[key]
            group["samples"] += 1
            group["max_wait_s"] = max(group["max_wait_s"], float(wait_s or 0.0))

    def _rollbacks(self):
        """Transactions rolled back and deadlocks so far in this database: a
        serialization failure that Odoo retries is a rollback and no wait."""
        return self.connection.execute(
            "SELECT xact_rollback, deadlocks FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()

    def summary(self, top=15):
        ranked = sorted(self.groups.items(), key=lambda item: -item[1]["samples"])
        rollbacks, deadlocks = self._rollbacks()
        return {
            "samples": self.samples,
            "waits_seen": self.waits,
            "rollbacks": rollbacks - self.rollbacks_at_start[0],
            "deadlocks": deadlocks - self.rollbacks_at_start[1],
            "top": [
                {
                    "waiter": waiter,
                    "blocker": blocker,
                    "blocker_state": state,
                    "relation": relation,
                    "waiting_query": query,
                    "blocking_query": blocker_query,
                    "samples": figures["samples"],
                    "max_wait_s": round(figures["max_wait_s"], 2),
                }
                for (
                    waiter,
                    blocker,
                    state,
                    relation,
                    query,
                    blocker_query,
                ), figures in (ranked[:top])
            ],
        }

    def close(self):
        self.connection.close()


class QueueWatch:
    """Backlog per class over time, from the rehearsal's own jobs."""

    def __init__(self, rpc, since_iso):
        self.rpc = rpc
        self.since = since_iso
        rows = rpc.call(
            "queue.job.channel",
            "search_read",
            [],
            fields=["complete_name", "effective_class"],
        )
        self.class_of = {
            row["complete_name"]: row["effective_class"] or "operational"
            for row in rows
        }
        self.series = []  # [t_s, class, pending, oldest_age_s]
        self.done_series = []  # [t_s, class, jobs done since the last sample]
        self.done_before = defaultdict(int)

    def stats(self):
        return self.rpc.call("peak.rehearsal", "job_stats", self.since)

    def sample(self, t_s):
        stats = self.stats()
        by_class = defaultdict(lambda: [0, 0.0, 0])
        for channel, figures in _channels(stats):
            row = by_class[self.class_of.get(channel, "operational")]
            row[0] += figures.get("pending", 0)
            row[1] = max(row[1], figures.get("oldest_pending_age_s") or 0.0)
            row[2] += figures.get("done", 0)
        for cls, (pending, oldest, done) in sorted(by_class.items()):
            self.series.append([round(t_s, 1), cls, pending, round(oldest, 1)])
            self.done_series.append([round(t_s, 1), cls, done - self.done_before[cls]])
            self.done_before[cls] = done
        return stats

    def per_class(self, stats, minutes):
        """Jobs done, failed, retried and per minute per class, over the run."""
        out = defaultdict(
            lambda: {
                "jobs_done": 0,
                "jobs_failed": 0,
                "jobs_retried": 0,
                "jobs_pending_at_end": 0,
                "max_backlog_age_s": 0.0,
            }
        )
        for cls in set(self.class_of.values()):
            out[cls]  # every class has a row: no job of it waited is a figure
        for channel, figures in _channels(stats):
            row = out[self.class_of.get(channel, "operational")]
            row["jobs_done"] += figures.get("done", 0)
            row["jobs_failed"] += figures.get("failed", 0)
            row["jobs_retried"] += figures.get("retried", 0)
            row["jobs_pending_at_end"] += figures.get("pending", 0)
        for _t, cls, _pending, oldest in self.series:
            out[cls]["max_backlog_age_s"] = max(out[cls]["max_backlog_age_s"], oldest)
        for row in out.values():
            row["jobs_per_min"] = (
                round(row["jobs_done"] / minutes, 2) if minutes else 0.0
            )
            row["run_twice"] = 0
        duplicates = stats.get("duplicates", 0)
        if duplicates:  # EDI orders imported twice: the channel of the EDI jobs
            out[self.class_of.get("root.bulk", "bulk")]["run_twice"] = duplicates
        return dict(out)


def _channels(stats):
    """``job_stats`` answers ``{channel: figures, ..., "duplicates": n}``."""
    return [(key, value) for key, value in stats.items() if isinstance(value, dict)]


def lease_intervals(rpc, since_iso, start_wall, end_wall):
    """Governor leases during the run, from peak_queue's activity log."""
    rows = rpc.call(
        "peak.queue.lease.event",
        "search_read",
        [
            ("create_date", ">=", since_iso),
            ("action", "in", ["created", "released", "expired"]),
        ],
        fields=["action", "channel_name", "create_date", "reason", "holder"],
        order="id",
    )
    open_at, intervals, events = {}, [], []
    for row in rows:
        wall = _wall(row["create_date"])
        events.append(
            {
                "t_s": round(wall - start_wall, 1),
                "action": row["action"],
                "channel": row["channel_name"],
                "reason": row["reason"],
            }
        )
        if row["action"] == "created":
            open_at.setdefault(row["channel_name"], wall)
        elif row["channel_name"] in open_at:
            began = open_at.pop(row["channel_name"])
            intervals.append((row["channel_name"], began, wall))
    intervals += [(channel, began, end_wall) for channel, began in open_at.items()]
    return [
        {
            "channel": channel,
            "start_s": round(a - start_wall, 1),
            "end_s": round(b - start_wall, 1),
        }
        for channel, a, b in intervals
    ], events


def _wall(odoo_datetime):
    """Odoo's 'YYYY-MM-DD HH:MM:SS' (UTC) as a Unix time."""
    return calendar.timegm(time.strptime(odoo_datetime, "%Y-%m-%d %H:%M:%S"))
