#!/usr/bin/env python3
"""Peak contention: critical latency under a bulk backlog, with and without
the governor (the headline benchmark of Odoo Peak).

A real Odoo 18 runs on a throw-away database as two servers, deployed as
docker/ and k8s/ deploy them: the pickers' web server (8 HTTP workers) and a
job server (queue_job's runner, peak_queue server-wide, and the workers the
runner dispatches jobs to), so bulk jobs never take a picker's worker. Five
modes run one after the other on the same servers and data, each with the
same seeded workload, and the whole sequence is repeated (``--repeats``,
default 3; ``static_cap`` only in the first) to give every ratio a spread:

- ``baseline``: critical traffic only;
- ``ungoverned``: critical traffic + a standing bulk backlog (plain queue_job,
  ``root.bulk`` capacity 3);
- ``static_cap``: the same, ``root.bulk`` capacity 1 (the usual manual remedy);
- ``governed``: the same as ungoverned, with ``peak-governor`` running as its
  least-privilege role, Peak mode on and a fulfillment window open all day:
  the waves are *unannounced*;
- ``governed_windowed``: the same, but the waves coincide with scheduled
  fulfillment windows (Peak mode on all day, ``peak_base.protected_intervals``
  published with one protected interval per burst, as peak_base publishes a
  window): the governor's pre-window drain can stop bulk before each one.

The governor runs with its defaults (``PolicyConfig()``, recorded in the JSON
with the command line); the server is warmed up before the first mode.

Critical work: JSON-RPC ``res.partner.write`` calls (one random "hot" partner
row each) arriving in waves (Poisson arrivals at a high rate during bursts, at a
low rate in between). Bulk work: queue jobs in ``root.bulk`` running an
``ir.actions.server`` whose code updates two hot rows, flushes, and sleeps
about a second with the row locks held.

Usage (from the repository root)::

    .venv/bin/python bench/peak_contention.py            # 200 s per mode, ~50 min
    .venv/bin/python bench/peak_contention.py --smoke    # ~8 s per mode

Writes ``bench/results/peak_contention.{json,md,png}`` (``*.smoke.*`` with
``--smoke``). The database, Odoo and the governor are removed/stopped at the
end whatever happens (Ctrl-C and SIGTERM included).
"""

import json
import logging
import math
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import bench_machine  # beside this script; puts scripts/ on the path
import bench_stats
import contention_lone
import psycopg2
import requests
from odoo_stack import OdooPair, create_database, start_governor
from peak_dev import postgres

from peak_governor import config
from peak_governor.policy import PolicyConfig

_logger = logging.getLogger("peak.bench.contention")

MODULES = ["queue_job", "peak_base", "peak_queue"]
MODES = ("baseline", "ungoverned", "static_cap", "governed", "governed_windowed")
BULK_MODES = ("ungoverned", "static_cap", "governed", "governed_windowed")
GOVERNED_MODES = ("governed", "governed_windowed")
#: Modes run in every repeat (static_cap, the manual remedy, only in the first).
REPEATED_MODES = ("baseline", "ungoverned", "governed", "governed_windowed")
#: The two scenarios and the governed mode each one is judged on.
SCENARIOS = {"unannounced": "governed", "windowed": "governed_windowed"}
#: A wave's onset: its first seconds, where a late lease shows.
ONSET_SECONDS = 5.0
#: A slow call sent within this long after the previous slow calls returned
#: belongs to their contention episode; a lease answers an episode only if it
#: starts before the episode's last slow call returns.
EPISODE_GAP_S = 1.0
CHANNEL = "root.bulk"
BENCH_HOLDER = "peak-bench-reset"
# Written by every mode: vacuumed between modes (OdooSide.vacuum).
CHURNED_TABLES = (
    "queue_job",
    "queue_job_lock",
    "queue_job_channel",
    "res_partner",
    "peak_queue_lease",
    "peak_queue_lease_event",
)
HOT_PREFIX = "peak-bench-hot-"
DRAIN_TIMEOUT_S = 60
#: Drain-and-delete tries of a reset (a job may change under the delete).
RESET_ATTEMPTS = 5
HTTP_TIMEOUT_S = 60
ODOO_WORKERS = 8  # HTTP workers of the pickers' server
QUEUE_MAX_CAPACITY = 4  # ODOO_QUEUE_JOB_MAX_CAPACITY of the job server
JOB_WORKERS = QUEUE_MAX_CAPACITY + 1  # one spare for the runner's health checks
GOVERNOR_INTERVAL_S = 0.2
# Targets of the issue (reported, never asserted).
TARGETS = {
    "governed_p95_vs_baseline_max": 1.3,
    "windowed_p95_vs_baseline_max": 1.15,
    "ungoverned_p95_vs_baseline_min": 5.0,
    "governed_bulk_vs_ungoverned_min": 0.7,
    "time_to_lease_p95_s_max": 1.5,
    "transitions_per_min_max": 2.0,
}


@dataclass(frozen=True)
class Workload:
    mode_seconds: float = 200.0
    wave_period_s: float = 120.0  # one burst per period
    burst_offset_s: float = 45.0  # burst starts this far into each period
    burst_seconds: float = 30.0  # a quarter of the period
    burst_rate: float = 10.0  # critical calls per second during a burst
    quiet_rate: float = 0.1  # critical calls per second between bursts
    hot_rows: int = 8
    bulk_rows_per_job: int = 2
    bulk_hold_s: float = 1.0  # row locks held this long by each bulk job
    bulk_capacity: int = 3  # root.bulk capacity in ungoverned and governed
    backlog: int = 30  # pending root.bulk jobs kept at all times
    warmup_s: float = 5.0  # bulk runs this long before a mode's clock starts
    server_warmup_s: float = 30.0  # critical calls before the first mode
    repeats: int = 3
    seed: int = 20261127

    def bursts(self):
        out, start = [], self.burst_offset_s
        while start < self.mode_seconds:
            out.append((start, min(start + self.burst_seconds, self.mode_seconds)))
            start += self.wave_period_s
        return out

    def in_burst(self, offset):
        return any(a <= offset < b for a, b in self.bursts())


SMOKE = Workload(
    mode_seconds=8.0,
    wave_period_s=8.0,
    burst_offset_s=3.0,
    burst_seconds=2.0,
    burst_rate=6.0,
    quiet_rate=1.0,
    bulk_hold_s=0.5,
    backlog=8,
    warmup_s=1.0,
    server_warmup_s=3.0,
    repeats=1,
)


class BenchError(RuntimeError):
    """The benchmark cannot run."""


def parse_args(argv):
    parser = bench_machine.arguments(
        "Critical latency under a bulk backlog: baseline, ungoverned, "
        "static cap, governed.",
        "~8 s per mode, *.smoke.* output files",
    )
    parser.add_argument(
        "--mode-seconds", type=float, help="measured seconds per mode (default 240)"
    )
    parser.add_argument("--seed", type=int, help="workload seed")
    parser.add_argument(
        "--repeats", type=int, help="runs of every mode (default 3, smoke 1)"
    )
    parser.add_argument(
        "--keep-logs", type=Path, help="copy Odoo's and the governor's logs here"
    )
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a governor policy setting for the governed modes (repeat), e.g. "
        "protect_starving=true for the pickers-first profile; default: none",
    )
    parser.add_argument("--verbose", action="store_true", help="Odoo logs at INFO")
    args = bench_machine.parse(parser, argv)
    try:
        args.policy_settings = policy_settings(args.policy)
    except ValueError as exc:
        parser.error(str(exc))
    workload = SMOKE if args.smoke else Workload()
    changes = {}
    if args.mode_seconds:
        changes["mode_seconds"] = args.mode_seconds
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.repeats:
        changes["repeats"] = args.repeats
    if changes:
        workload = Workload(**{**asdict(workload), **changes})
    args.workload = workload
    return args


def policy_settings(pairs):
    """``["name=value", ...]`` -> (effective PolicyConfig, {name: value}),
    checked as the governor checks them."""
    raw = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--policy {pair!r}: expected NAME=VALUE")
        raw[name.strip().replace("-", "_")] = value.strip()
    try:
        effective = config.apply_policy_settings(
            PolicyConfig(), {k: ("--policy", v) for k, v in raw.items()}
        )
        effective.validate()
    except (config.ConfigError, ValueError) as exc:
        raise ValueError(f"--policy: {exc}") from exc
    return effective, raw


def governor_flags(settings):
    """``{name: value}`` -> the governor's command-line flags."""
    flags = []
    for name, value in settings.items():
        flags += [f"--{name.replace('_', '-')}", value]
    return flags


# -- statistics ---------------------------------------------------------------


def _round(value, digits=1):
    return None if value is None else round(value, digits)


# -- the critical workload ------------------------------------------------------


def critical_schedule(workload):
    """(offset_s, hot row index) of every critical call: the same for every
    mode (seeded Poisson arrivals at the burst or quiet rate)."""
    rng = random.Random(workload.seed)
    out, offset = [], 0.0
    while True:
        rate = workload.burst_rate if workload.in_burst(offset) else workload.quiet_rate
        step = rng.expovariate(rate)
        # Do not let a quiet-rate gap jump over the start of a burst.
        nxt = offset + step
        starts = [a for a, _b in workload.bursts() if offset < a < nxt]
        if starts and not workload.in_burst(offset):
            offset = starts[0]
            continue
        offset = nxt
        if offset >= workload.mode_seconds:
            return out
        out.append((offset, rng.randrange(workload.hot_rows)))


class CriticalClient:
    """Order-confirmation-like JSON-RPC calls as a logged-in user."""

    def __init__(self, base_url, db_name, login, password, threads=64):
        self.base_url = base_url
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max_workers=threads)
        session = requests.Session()
        answer = session.post(
            f"{base_url}/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"db": db_name, "login": login, "password": password},
            },
            timeout=HTTP_TIMEOUT_S,
        )
        answer.raise_for_status()
        body = answer.json()
        if body.get("error") or not body.get("result", {}).get("uid"):
            raise BenchError(f"cannot log in as {login}: {body.get('error')}")
        self.cookies = session.cookies.get_dict()
        session.close()

    def _session(self):
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.cookies.update(self.cookies)
        return session

    def write(self, partner_id, note):
        """One call; returns an error string or None."""
        try:
            answer = self._session().post(
                f"{self.base_url}/web/dataset/call_kw/res.partner/write",
                json={
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {
                        "model": "res.partner",
                        "method": "write",
                        "args": [[partner_id], {"comment": note}],
                        "kwargs": {},
                    },
                },
                timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            return type(exc).__name__
        if answer.status_code != 200:
            return f"HTTP {answer.status_code}"
        try:
            body = answer.json()
        except ValueError:
            return "invalid JSON"
        if body.get("error"):
            data = body["error"].get("data") or {}
            return data.get("name") or body["error"].get("message") or "error"
        return None

    def run(self, schedule, hot_ids, mode, start_at=None):
        """Fire the schedule open-loop; latency counts from the scheduled time
        (a call queued behind slow ones is measured as late as it was).
        ``start_at``: wall-clock second to start at (scheduled windows)."""
        samples = [None] * len(schedule)
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.time()))
        start_perf = time.perf_counter()
        start_wall = time.time()

        def one(index, offset, row):
            error = self.write(hot_ids[row], f"{mode} call {index}")
            latency_ms = (time.perf_counter() - start_perf - offset) * 1000
            samples[index] = {
                "t": round(offset, 4),
                "ms": round(latency_ms, 2),
                "row": row,
                "error": error,
            }

        futures = []
        for index, (offset, row) in enumerate(schedule):
            delay = start_perf + offset - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(self.pool.submit(one, index, offset, row))
        for future in futures:
            future.result()
        return start_wall, samples

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


# -- Odoo-side set-up and bookkeeping (in-process registry) -------------------------


class OdooSide:
    """The bench's own Odoo registry: data set-up, enqueuing, resets."""

    def __init__(self, config, db_name):
        import odoo

        self.odoo = odoo
        odoo.tools.config.parse_config(
            ["-c", str(config), "-d", db_name], setup_logging=False
        )
        self.registry = odoo.modules.registry.Registry(db_name)
        self.db_name = db_name
        self.lock = threading.Lock()
        self.hot_ids = []
        self.action_ids = []

    def env(self):
        """A context manager yielding a superuser env; commits on exit."""
        from contextlib import contextmanager

        @contextmanager
        def manager():
            with self.lock, self.registry.cursor() as cr:
                yield self.odoo.api.Environment(cr, self.odoo.SUPERUSER_ID, {})
                cr.commit()

        return manager()

    def vacuum(self):
        """VACUUM (ANALYZE) the tables the modes churn, so every mode starts
        from the same state: with autovacuum off (as on this machine's CI
        server) a run would leave thousands of dead queue_job rows that
        every later mode scans, and the modes measured later would be
        slower for it."""
        _name, params = self.odoo.sql_db.connection_info_for(self.db_name)
        connection = psycopg2.connect(**params)
        try:
            connection.autocommit = True
            with connection.cursor() as cr:
                cr.execute(f"VACUUM (ANALYZE) {', '.join(CHURNED_TABLES)}")
        finally:
            connection.close()

    def sql(self, query, params=()):
        with self.env() as env:
            env.cr.execute(query, params)
            return env.cr.fetchall() if env.cr.description else None

    def setup(self, workload):
        with self.env() as env:
            partners = env["res.partner"].create(
                [
                    {"name": f"{HOT_PREFIX}{i}", "comment": "stock quant"}
                    for i in range(workload.hot_rows)
                ]
            )
            self.hot_ids = partners.ids
            model = env["ir.model"]._get("res.partner")
            actions = env["ir.actions.server"]
            # One server action per pair of hot rows; rows locked in id order.
            for pair in combinations(sorted(self.hot_ids), workload.bulk_rows_per_job):
                code = (
                    f"rows = env['res.partner'].browse({list(pair)!r})\n"
                    "rows.write({'comment': 'bulk recompute'})\n"
                    "rows.flush_recordset()\n"
                    f"time.sleep({workload.bulk_hold_s!r})\n"
                )
                actions |= actions.create(
                    {
                        "name": f"peak bench bulk {pair}",
                        "model_id": model.id,
                        "state": "code",
                        "code": code,
                    }
                )
            self.action_ids = actions.ids
            # Peak mode on, fulfillment windows covering every hour of every
            # day (one window cannot last 24 h: two of 12 h).
            env["peak.mode"].set_peak_mode(True, "peak_contention benchmark")
            days = {day: True for day in ("mon", "tue", "wed", "thu")}
            days.update(fri=True, sat=True, sun=True)
            env["peak.fulfillment.window"].create(
                [
                    {"name": "bench 00-12", "start_hour": 0.0, "end_hour": 12.0,
                     "tz": "UTC", **days},
                    {"name": "bench 12-24", "start_hour": 12.0, "end_hour": 0.0,
                     "tz": "UTC", **days},
                ]
            )  # fmt: skip
            self._set_capacity(env, workload.bulk_capacity)

    def protected_now(self):
        raw = self.sql(
            "SELECT value FROM ir_config_parameter WHERE key = %s",
            ("peak_base.protected_intervals",),
        )
        if not raw:
            return False
        data = json.loads(raw[0][0])
        now = datetime.now(UTC)
        for start, end in data.get("intervals", []):
            a = datetime.fromisoformat(start.replace("Z", "+00:00"))
            b = datetime.fromisoformat(end.replace("Z", "+00:00"))
            if a <= now < b:
                return True
        return False

    def intervals_doc(self):
        raw = self.sql(
            "SELECT value FROM ir_config_parameter WHERE key = %s",
            ("peak_base.protected_intervals",),
        )
        return raw[0][0] if raw else None

    def publish_windows(self, windows, previous):
        """Publish protected intervals ``[(start_wall, end_wall)]`` with Peak
        mode on, as peak_base does for fulfillment windows (to the second:
        the windows of the UI are minute-grained); ``windows`` None puts
        ``previous`` back. The bench's Odoo runs no cron, so nothing
        recomputes it meanwhile."""
        if windows is None:
            value = previous
        else:
            now = time.time()
            doc = json.loads(previous)
            doc["valid_from"] = _iso(now - 3600)
            doc["valid_until"] = _iso(now + 7200)
            doc["intervals"] = [[_iso(a), _iso(b)] for a, b in windows]
            doc["peak_mode"] = [[_iso(now - 3600), _iso(now + 7200)]]
            value = json.dumps(doc)
        self.sql(
            "UPDATE ir_config_parameter SET value = %s WHERE key = %s",
            (value, "peak_base.protected_intervals"),
        )

    @staticmethod
    def _set_capacity(env, capacity):
        channel = env["queue.job.channel"].search([("complete_name", "=", CHANNEL)])
        if not channel:
            raise BenchError(f"no channel {CHANNEL}")
        channel.write({"capacity": capacity, "paused": False})

    def set_capacity(self, capacity):
        with self.env() as env:
            self._set_capacity(env, capacity)

    def pending_bulk(self):
        return self.sql(
            "SELECT count(*) FROM queue_job WHERE channel = %s "
            "AND state IN ('pending', 'enqueued', 'wait_dependencies')",
            (CHANNEL,),
        )[0][0]

    def running_bulk(self):
        return self.sql(
            "SELECT count(*) FROM queue_job WHERE channel = %s "
            "AND state IN ('enqueued', 'started')",
            (CHANNEL,),
        )[0][0]

    def enqueue_bulk(self, action_ids):
        with self.env() as env:
            actions = env["ir.actions.server"]
            for action_id in action_ids:
                actions.browse(action_id).with_delay(
                    channel=CHANNEL, description="bench bulk recompute"
                ).run()

    def reset(self, capacity):
        """No bulk job left running or queued, no lease, given capacity."""
        self.sql(
            "SELECT * FROM peak_queue_lease_acquire(%s, %s, 'bench reset', "
            "'{}'::jsonb, 120)",
            (CHANNEL, BENCH_HOLDER),
        )
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        for attempt in range(1, RESET_ATTEMPTS + 1):
            while self.running_bulk():
                if time.monotonic() > deadline:
                    _logger.warning(
                        "bulk jobs still running after %ss", DRAIN_TIMEOUT_S
                    )
                    break
                time.sleep(0.2)
            try:
                with self.env() as env:
                    env["queue.job"].search([("channel", "=", CHANNEL)]).unlink()
                break
            except psycopg2.errors.SerializationFailure:
                # The runner dispatched a job (or one finished) between the
                # drain and the delete, before it saw the lease: drain again.
                if attempt == RESET_ATTEMPTS:
                    raise
                _logger.info("reset: a bulk job changed under the delete, again")
                time.sleep(0.5)
        self.sql("SELECT peak_queue_lease_release(NULL, NULL, 'bench reset')")
        self.set_capacity(capacity)
        self.vacuum()

    def bulk_done(self, start_wall, end_wall):
        rows = self.sql(
            "SELECT state, count(*) FILTER (WHERE date_done >= %s AND date_done < %s)"
            ", count(*) FROM queue_job WHERE channel = %s GROUP BY state",
            (_utc(start_wall), _utc(end_wall), CHANNEL),
        )
        done = sum(in_window for state, in_window, _ in rows if state == "done")
        failed = sum(total for state, _, total in rows if state == "failed")
        return done, failed

    def lease_events(self, holder, since_wall, until_wall):
        """The lease history of ``holder`` (one governor: one mode of a run)."""
        rows = self.sql(
            "SELECT action, create_date, holder FROM peak_queue_lease_event "
            "WHERE channel_name = %s AND holder = %s AND create_date >= %s "
            "AND create_date <= %s AND action IN ('created', 'released', 'expired') "
            "ORDER BY id",
            (CHANNEL, holder, _utc(since_wall), _utc(until_wall)),
        )
        return [
            (action, created.replace(tzinfo=UTC).timestamp(), holder)
            for action, created, holder in rows
        ]


def _utc(wall):
    return datetime.fromtimestamp(wall, UTC).replace(tzinfo=None)


def _iso(wall):
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BulkFeeder(threading.Thread):
    """Keeps ``backlog`` jobs queued in root.bulk (seeded job choice)."""

    def __init__(self, side, workload):
        super().__init__(name="bulk-feeder", daemon=True)
        self.side = side
        self.workload = workload
        self.rng = random.Random(workload.seed + 1)
        self.stop_event = threading.Event()
        self.enqueued = 0
        self.error = None

    def top_up(self):
        missing = self.workload.backlog - self.side.pending_bulk()
        if missing > 0:
            ids = [self.rng.choice(self.side.action_ids) for _ in range(missing)]
            self.side.enqueue_bulk(ids)
            self.enqueued += missing

    def run(self):
        try:
            while not self.stop_event.wait(0.5):
                self.top_up()
        except Exception as exc:  # reported by the mode, never swallowed
            self.error = exc
            _logger.exception("bulk feeder failed")

    def stop(self):
        self.stop_event.set()
        self.join(10)


# -- one mode ----------------------------------------------------------------------


def lease_intervals(events, end_wall):
    """[(start, end or None)] from created/released/expired events, in order."""
    out, start = [], None
    for action, at, _holder in events:
        if action == "created" and start is None:
            start = at
        elif action in ("released", "expired") and start is not None:
            out.append((start, at))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def governor_metrics(samples, start_wall, end_wall, events, threshold_ms, policy=None):
    """Time to lease / release and transitions, from the lease events and the
    critical calls (see README: contention onset and calm)."""
    intervals = lease_intervals(events, end_wall)
    counted = [e for e in events if start_wall <= e[1] <= end_wall]
    minutes = (end_wall - start_wall) / 60.0

    def leased_at(moment):
        return any(
            a <= moment < (b if b is not None else math.inf) for a, b in intervals
        )

    slow = sorted(
        (start_wall + s["t"], start_wall + s["t"] + s["ms"] / 1000.0)
        for s in samples
        if s["error"] is None and s["ms"] > threshold_ms
    )
    starts = sorted(a for a, _ in intervals)
    to_lease, unanswered, onsets, explained = [], 0, [], []
    for episode in contention_episodes(slow):
        onset, end = episode[0][0], max(done for _sent, done in episode)
        if leased_at(onset):
            continue  # slow while protected: the wave's p95 shows it
        onsets.append(onset - start_wall)
        answer = next((a for a in starts if onset <= a <= end), None)
        if answer is None:
            unanswered += 1
            explained.append(
                explain_onset(episode, intervals, start_wall, policy or PolicyConfig())
            )
        else:
            to_lease.append(answer - onset)
    to_release = []
    for a, b in intervals:
        if b is None or b > end_wall:
            continue
        waits = [done for _sent, done in slow if a - 5 <= done <= b]
        calm = max(waits) if waits else a
        to_release.append(max(0.0, b - calm))
    return {
        "time_to_lease_p95_s": _round(bench_stats.percentile(to_lease, 95), 3),
        "time_to_lease_p50_s": _round(bench_stats.percentile(to_lease, 50), 3),
        "time_to_lease_samples_s": [round(v, 3) for v in to_lease],
        "contention_onsets_s": [round(v, 2) for v in onsets],
        "onsets_without_lease": unanswered,
        "onsets_without_lease_explained": explained,
        "time_to_release_p95_s": _round(bench_stats.percentile(to_release, 95), 3),
        "time_to_release_samples_s": [round(v, 3) for v in to_release],
        "transitions": len(counted),
        "transitions_per_min": round(len(counted) / minutes, 2),
        "leases": [
            [round(a - start_wall, 3), None if b is None else round(b - start_wall, 3)]
            for a, b in intervals
        ],
        "leased_fraction": round(
            sum(
                max(0.0, min(b or end_wall, end_wall) - max(a, start_wall))
                for a, b in intervals
            )
            / (end_wall - start_wall),
            3,
        ),
    }


def contention_episodes(slow):
    """Slow calls ``[(sent, done)]`` (sorted by send time) grouped into
    episodes: a call sent more than EPISODE_GAP_S after every earlier call
    of the episode returned starts a new one."""
    episodes, end = [], -math.inf
    for sent, done in slow:
        if sent > end + EPISODE_GAP_S:
            episodes.append([])
        episodes[-1].append((sent, done))
        end = max(end, done)
    return episodes


def explain_onset(episode, intervals, start_wall, policy):
    """Why a contention episode got no lease before its last slow call
    returned (from the calls and the lease history; the governor's log has
    the decisions)."""
    sent = episode[0][0]
    longest = max(done - at for at, done in episode)
    ended = [b for _a, b in intervals if b is not None and b <= sent]
    since_release = sent - max(ended) if ended else None
    window_age = policy.protected.elevated_enter_age
    if longest < window_age:
        why = (
            f"the slow calls took at most {longest:.2f} s end to end: shorter than "
            f"the governor's elevated_enter_age ({window_age} s in a "
            "window), so no lock wait of protected work reached its threshold"
        )
    elif len(episode) == 1 and policy.preempt_after:
        why = (
            f"a lone slow call ({longest:.2f} s end to end) outside a wave: no "
            "lease for one request; the job it waited on is preempted once the "
            f"wait reaches {policy.preempt_after:g} s (preemption times in the "
            "JSON, preempted_at_s)"
        )
    elif len(episode) == 1 and policy.protect_starving:
        why = (
            f"a lone slow call ({longest:.2f} s end to end) outside a wave: "
            "pickers first opens the demand gate for one request once a wait "
            f"reaches {policy.demand_gate_max_wait:g} s or the sampler (every "
            f"{GOVERNOR_INTERVAL_S:g} s) sees it wait again after Odoo retried "
            "it; neither happened before the call returned"
        )
    elif len(episode) == 1:
        why = (
            f"a lone slow call ({longest:.2f} s end to end) outside a wave: the "
            "governor's demand gate pauses nothing for one request that waited "
            "while no other did; a single lock wait of "
            f"{policy.protected.severe_enter_age} s (severe in a window) would, "
            "but Odoo's retries cut the call's waits into shorter ones "
            "(protect_starving, pickers first, leases such a request)"
        )
    elif since_release is not None and since_release < 5.0:
        why = (
            f"{since_release:.1f} s after a release: bulk transactions started "
            "on release held rows; no re-lease before the slow calls returned "
            "(see the backoff in the log)"
        )
    elif longest < policy.normal.elevated_enter_age:
        why = (
            f"the slow calls took at most {longest:.2f} s: outside a window the "
            f"normal elevated_enter_age ({policy.normal.elevated_enter_age} s) "
            "applies"
        )
    else:
        why = (
            "slow calls without a protected lock wait the sampler saw (e.g. CPU "
            "saturation rather than row locks): nothing for a lease to fix"
        )
    return {
        "t_s": round(sent - start_wall, 2),
        "slow_calls": len(episode),
        "slowest_s": round(longest, 3),
        "seconds_since_release": None
        if since_release is None
        else round(since_release, 2),
        "why": why,
    }


def wave_figures(samples, workload):
    """p95 of each burst and of its first ONSET_SECONDS."""
    waves, onset_all = [], []
    for a, b in workload.bursts():
        wave = [s for s in samples if s["error"] is None and a <= s["t"] < b]
        onset = [s["ms"] for s in wave if s["t"] < a + ONSET_SECONDS]
        onset_all += onset
        waves.append(
            {
                "start_s": a,
                "p95_ms": _round(bench_stats.percentile([s["ms"] for s in wave], 95)),
                "onset_p95_ms": _round(bench_stats.percentile(onset, 95)),
            }
        )
    return _round(bench_stats.percentile(onset_all, 95)), waves


def summarize(mode, samples, workload, start_wall, end_wall, bulk):
    ok = [s["ms"] for s in samples if s["error"] is None]
    burst = [
        s["ms"] for s in samples if s["error"] is None and workload.in_burst(s["t"])
    ]
    errors = [s["error"] for s in samples if s["error"] is not None]
    out = {
        "p50_ms": _round(bench_stats.percentile(ok, 50)),
        "p90_ms": _round(bench_stats.percentile(ok, 90)),
        "p95_ms": _round(bench_stats.percentile(ok, 95)),
        "p99_ms": _round(bench_stats.percentile(ok, 99)),
        "max_ms": _round(max(ok) if ok else None),
        "calls": len(samples),
        "errors": len(errors),
        "error_kinds": {k: errors.count(k) for k in sorted(set(errors))},
        "burst_p95_ms": _round(bench_stats.percentile(burst, 95)),
        "measured_s": round(end_wall - start_wall, 2),
        "bulk_jobs_per_min": None,
    }
    out["onset_p95_ms"], out["waves"] = wave_figures(samples, workload)
    if bulk is not None:
        done, failed = bulk
        out["bulk_jobs_done"] = done
        out["bulk_jobs_failed"] = failed
        out["bulk_jobs_per_min"] = round(done / ((end_wall - start_wall) / 60.0), 2)
    return out


class Bench:
    def __init__(self, args, settings, run_id):
        self.args = args
        self.workload = args.workload
        self.settings = settings
        self.run_id = run_id
        self.db_name = f"peak_bench_contention_{run_id}"
        self.scratch = Path(tempfile.mkdtemp(prefix="peak_bench_contention_"))
        self.created_db = False
        self.odoo = None
        self.jobs = None
        self.governor = None
        self.side = None
        self.client = None
        self.password = secrets.token_urlsafe(16)

    # -- lifecycle --------------------------------------------------------

    def start(self):
        settings = self.settings
        _logger.info("creating throw-away database %s", self.db_name)
        self.created_db = True
        init_config = create_database(
            settings, self.scratch, self.db_name, MODULES, self.password
        )
        self.side = OdooSide(init_config, self.db_name)
        self.side.setup(self.workload)
        if not self.side.protected_now():
            raise BenchError("Peak mode / fulfillment window not in effect")
        # Two servers on one database, as docker/ and k8s/ deploy them, so
        # that bulk jobs never take an HTTP worker from a picker.
        self.pair = OdooPair(settings, self.scratch, self.db_name).start(
            ODOO_WORKERS, QUEUE_MAX_CAPACITY
        )
        self.odoo, self.odoo_log = self.pair.web, self.pair.web_log
        self.jobs, self.jobs_log = self.pair.jobs, self.pair.jobs_log
        self.port = self.pair.port
        self.client = CriticalClient(
            self.pair.url, self.db_name, "admin", self.password
        )
        self.warm_up()

    def warm_up(self):
        """Warm every worker (registry load, caches, first-request costs) with
        burst-rate calls, not measured: the first wave of a cold server shows
        spikes of up to 2 s that are no contention."""
        rate = self.workload.burst_rate
        count = max(60, int(self.workload.server_warmup_s * rate))
        warm = [(i / rate, i % self.workload.hot_rows) for i in range(count)]
        _logger.info("warming the server: %s calls", count)
        self.client.run(warm, self.side.hot_ids, "warmup")

    def stop(self):
        for name in ("governor", "jobs", "odoo"):
            child = getattr(self, name)
            if child is not None:
                try:
                    child.stop(grace_s=8)
                except Exception:
                    _logger.exception("could not stop %s", name)
        if self.client is not None:
            self.client.close()
        if self.args.keep_logs:
            self.args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in self.scratch.glob("*.log"):
                shutil.copy(log, self.args.keep_logs / log.name)
        if self.created_db:
            bench_machine.drop_database(self.settings, self.db_name)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def start_governor(self, instance_id):
        self.governor = start_governor(
            self.settings,
            self.db_name,
            self.scratch / "governor.log",
            instance_id,
            GOVERNOR_INTERVAL_S,
            governor_flags(self.args.policy_settings[1]),
        )

    # -- modes ------------------------------------------------------------

    def run_mode(self, mode, schedule, threshold_ms, repeat=0):
        workload, side = self.workload, self.side
        capacity = 1 if mode == "static_cap" else workload.bulk_capacity
        side.reset(capacity)
        feeder = None
        if mode in BULK_MODES:
            feeder = BulkFeeder(side, workload)
            feeder.top_up()
            feeder.start()
        previous_doc = side.intervals_doc()
        start_at = None
        try:
            if feeder is not None:
                deadline = time.monotonic() + 30
                while not side.running_bulk() and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(workload.warmup_s)
            if mode in GOVERNED_MODES:
                holder = f"bench-{mode}-{self.run_id}-{repeat}"
                self.start_governor(holder)
            if mode == "governed_windowed":
                # One protected interval per burst, relative to a start on a
                # whole second (the format's precision); the governor reads
                # them every cycle.
                start_at = math.ceil(time.time()) + 1.0
                side.publish_windows(
                    [(start_at + a, start_at + b) for a, b in workload.bursts()],
                    previous_doc,
                )
            _logger.info("mode %s: %s critical calls", mode, len(schedule))
            start_wall, samples = self.client.run(
                schedule, side.hot_ids, mode, start_at=start_at
            )
            end_wall = start_wall + workload.mode_seconds
            time.sleep(max(0.0, end_wall - time.time()))
            if feeder is not None and feeder.error is not None:
                raise BenchError(f"bulk feeder failed: {feeder.error}")
            bulk = side.bulk_done(start_wall, end_wall) if feeder else None
            result = summarize(mode, samples, workload, start_wall, end_wall, bulk)
            if mode in GOVERNED_MODES:
                events = side.lease_events(holder, start_wall - 60, end_wall)
                result.update(
                    governor_metrics(
                        samples,
                        start_wall,
                        end_wall,
                        events,
                        threshold_ms,
                        self.args.policy_settings[0],
                    )
                )
                result["governor_alive"] = self.governor.alive()
                result.update(
                    contention_lone.preemptions(
                        side, holder, start_wall - 60, end_wall, start_wall
                    )
                )
            result.update(contention_lone.lone_calls(samples, workload, threshold_ms))
            result["samples"] = samples
        finally:
            if feeder is not None:
                feeder.stop()
            if self.governor is not None:
                self.governor.stop(grace_s=8)
                self.governor = None
            if start_at is not None:
                side.publish_windows(None, previous_doc)
        _logger.info(
            "mode %s: p50 %s ms, p95 %s ms, p99 %s ms, errors %s, bulk/min %s",
            mode,
            result["p50_ms"],
            result["p95_ms"],
            result["p99_ms"],
            result["errors"],
            result["bulk_jobs_per_min"],
        )
        return result

    def run(self):
        schedule = critical_schedule(self.workload)
        machine = _machine(self.side)
        runs = []
        for repeat in range(self.workload.repeats):
            results = {}
            threshold_ms = 100.0
            for mode in MODES:
                if repeat and mode not in REPEATED_MODES:
                    continue
                _logger.info("run %s/%s", repeat + 1, self.workload.repeats)
                results[mode] = self.run_mode(mode, schedule, threshold_ms, repeat)
                if mode == "baseline":
                    threshold_ms = onset_threshold(results["baseline"])
            results["onset_threshold_ms"] = threshold_ms
            for mode in MODES:
                if mode in results:
                    results[mode]["slow_calls"] = sum(
                        1
                        for s in results[mode]["samples"]
                        if s["error"] is None and s["ms"] > threshold_ms
                    )
            if repeat:  # the plot shows the first run: keep its calls only
                for mode in MODES:
                    results.get(mode, {}).pop("samples", None)
            runs.append(results)
        self.side.reset(self.workload.bulk_capacity)
        machine["loadavg_1m_at_end"] = bench_machine.load_1m()
        return build_result(self.workload, runs, machine, self.args)


def onset_threshold(baseline):
    """A critical call is "slow" (contended) above this: 2x the baseline p95,
    at least 100 ms."""
    return round(max(2 * (baseline["p95_ms"] or 0), 100.0), 1)


def _machine(side):
    import odoo

    return bench_machine.machine(
        postgresql=side.sql("SHOW server_version")[0][0],
        odoo=odoo.release.version,
        odoo_workers=ODOO_WORKERS,
        job_server_workers=JOB_WORKERS,
        queue_job_max_capacity=QUEUE_MAX_CAPACITY,
        governor_interval_s=GOVERNOR_INTERVAL_S,
        autovacuum=side.sql("SHOW autovacuum")[0][0],
    )


def _spread(values):
    """Median and range of one figure over the runs, and every value."""
    return {**bench_stats.spread(values, 3), "values": values}


#: Per scenario: figure -> (target key, upper bound?)
FIGURES = {
    "governed_p95_vs_baseline": ("governed_p95_vs_baseline_max", True),
    "ungoverned_p95_vs_baseline": ("ungoverned_p95_vs_baseline_min", False),
    "governed_bulk_vs_ungoverned": ("governed_bulk_vs_ungoverned_min", False),
    "time_to_lease_p95_s": ("time_to_lease_p95_s_max", True),
    "transitions_per_min": ("transitions_per_min_max", True),
    "bulk_jobs_failed": (None, True),
    "onset_p95_vs_baseline": ("onset_p95_vs_baseline_max", True),
    "onsets_without_lease": (None, True),
    "governed_p90_vs_baseline": (None, True),
    "governed_slow_calls": (None, True),
    "baseline_slow_calls": (None, True),
    "lone_slow_calls": (None, True),
    "lone_slow_max_s": ("lone_slow_max_s_max", True),
    "lone_slow_p95_s": ("lone_slow_p95_s_max", True),
    "baseline_lone_slow_max_s": (None, True),
    "preempted_jobs": (None, True),
    "preempted_twice": (None, True),
    "preempted_failed": (None, True),
}
#: Targets only the pickers_first profile promises (#21): lone waits answered.
PICKERS_FIRST_TARGETS = {
    "lone_slow_max_s_max": 1.5,
    "lone_slow_p95_s_max": 1.0,
    "onset_p95_vs_baseline_max": 5.0,
}


def run_figures(run, mode):
    base, ung, gov = run["baseline"], run["ungoverned"], run[mode]
    return {
        "governed_p95_vs_baseline": bench_stats.ratio(gov["p95_ms"], base["p95_ms"]),
        "ungoverned_p95_vs_baseline": bench_stats.ratio(ung["p95_ms"], base["p95_ms"]),
        "governed_bulk_vs_ungoverned": bench_stats.ratio(
            gov["bulk_jobs_per_min"], ung["bulk_jobs_per_min"]
        ),
        "time_to_lease_p95_s": gov.get("time_to_lease_p95_s"),
        "transitions_per_min": gov.get("transitions_per_min"),
        "bulk_jobs_failed": gov.get("bulk_jobs_failed"),
        "onset_p95_vs_baseline": bench_stats.ratio(
            gov["onset_p95_ms"], base["onset_p95_ms"]
        ),
        "onsets_without_lease": gov.get("onsets_without_lease"),
        "governed_p90_vs_baseline": bench_stats.ratio(
            gov.get("p90_ms"), base.get("p90_ms")
        ),
        "governed_slow_calls": gov.get("slow_calls"),
        "baseline_slow_calls": base.get("slow_calls"),
        "lone_slow_calls": gov.get("lone_slow_calls"),
        "lone_slow_max_s": gov.get("lone_slow_max_s"),
        "lone_slow_p95_s": gov.get("lone_slow_p95_s"),
        "baseline_lone_slow_max_s": base.get("lone_slow_max_s"),
        "preempted_jobs": gov.get("preempted_jobs"),
        "preempted_twice": gov.get("preempted_twice"),
        "preempted_failed": gov.get("preempted_failed"),
    }


def _target_met(value, bound, upper):
    if value is None or bound is None:
        return None
    return value <= bound if upper else value >= bound


def bench_command(args):
    if not args.smoke and not args.policy:
        return "make bench"
    flags = ["--smoke"] if args.smoke else []
    flags += [f"--policy {pair}" for pair in args.policy]
    return " ".join([".venv/bin/python bench/peak_contention.py", *flags])


def build_result(workload, runs, machine, args):
    scenarios = {}
    for scenario, mode in SCENARIOS.items():
        per_run = [run_figures(run, mode) for run in runs]
        figures = {k: _spread([row[k] for row in per_run]) for k in FIGURES}
        bounds = dict(TARGETS)
        if args.policy_settings[0].profile == "pickers_first":
            bounds.update(PICKERS_FIRST_TARGETS)
        if scenario == "windowed":
            bounds["governed_p95_vs_baseline_max"] = TARGETS[
                "windowed_p95_vs_baseline_max"
            ]
        targets = {}
        for figure, (key, upper) in FIGURES.items():
            if key is not None:
                targets[figure] = _target_met(
                    figures[figure]["median"], bounds.get(key), upper
                )
        targets["bulk_jobs_failed"] = figures["bulk_jobs_failed"]["max"] in (0, None)
        scenarios[scenario] = {
            "mode": mode,
            "figures": figures,
            "bounds": {
                figure: bounds.get(key) for figure, (key, _u) in FIGURES.items() if key
            },
            "targets_on_median": targets,
        }
    first = runs[0]
    static = {
        "static_cap_p95_vs_baseline": bench_stats.ratio(
            first["static_cap"]["p95_ms"], first["baseline"]["p95_ms"]
        ),
        "static_cap_bulk_vs_ungoverned": bench_stats.ratio(
            first["static_cap"]["bulk_jobs_per_min"],
            first["ungoverned"]["bulk_jobs_per_min"],
        ),
    }
    return {
        "runs": runs,
        "scenarios": scenarios,
        "static_cap": static,
        "policy": asdict(args.policy_settings[0]),
        "governor": {
            "interval_s": GOVERNOR_INTERVAL_S,
            "flags": " ".join(governor_flags(args.policy_settings[1]))
            or "--interval only: every policy setting at its default",
        },
        "machine": machine,
        "workload": asdict(workload),
        "bursts_s": workload.bursts(),
        "smoke": bool(args.smoke),
        "command": bench_command(args),
    }


# -- output ------------------------------------------------------------------------


def _fmt(value, digits=1):
    return bench_stats.fmt(value, digits)


LABELS = {
    "governed_p95_vs_baseline": "governed p95 / baseline p95",
    "ungoverned_p95_vs_baseline": "ungoverned p95 / baseline p95",
    "governed_bulk_vs_ungoverned": "governed bulk jobs/min / ungoverned",
    "time_to_lease_p95_s": "contention onset to lease, p95 (s)",
    "transitions_per_min": "lease transitions per minute",
    "bulk_jobs_failed": "bulk jobs failed",
    "onset_p95_vs_baseline": "wave onset p95 (first 5 s) / baseline's",
    "onsets_without_lease": "contention onsets without a lease",
    "governed_p90_vs_baseline": "governed p90 / baseline p90",
    "governed_slow_calls": "governed calls over the onset threshold",
    "baseline_slow_calls": "baseline calls over the onset threshold",
    "lone_slow_calls": "lone slow calls (between waves, over the threshold)",
    "lone_slow_max_s": "lone slow calls, slowest end to end (s)",
    "lone_slow_p95_s": "lone slow calls, p95 end to end (s)",
    "baseline_lone_slow_max_s": "baseline lone slow calls, slowest (s)",
    "preempted_jobs": "jobs preempted",
    "preempted_twice": "preemptions of a job already preempted",
    "preempted_failed": "preempted jobs that ended failed",
}


def _governor_settings(result):
    flags = result["governor"]["flags"]
    return "defaults" if flags.startswith("--interval only") else flags


def table(result):
    w = result["workload"]
    m = result["machine"]
    runs = result["runs"]
    lines = [
        f"{len(runs)} run(s); each mode {w['mode_seconds']:.0f} s, critical bursts "
        f"of {w['burst_seconds']:.0f} s at {w['burst_rate']:g}/s every "
        f"{w['wave_period_s']:.0f} s ({w['quiet_rate']:g}/s between), bulk jobs "
        f"holding {w['bulk_rows_per_job']} of {w['hot_rows']} hot rows for "
        f"{w['bulk_hold_s']:g} s, backlog {w['backlog']}, seed {w['seed']}; "
        f"governor {_governor_settings(result)} (policy in the JSON).",
        "",
    ]
    for scenario, data in result["scenarios"].items():
        lines += [
            f"## {scenario} waves (mode `{data['mode']}`)",
            "",
            "| figure | median | min - max over runs | target | |",
            "|---|---:|---:|---:|---|",
        ]
        for figure, spread in data["figures"].items():
            bound = data["bounds"].get(figure)
            met = data["targets_on_median"].get(figure)
            verdict = "" if met is None else ("met" if met else "NOT met")
            if figure == "bulk_jobs_failed":
                bound, verdict = 0, "met" if met else "NOT met"
            upper = figure not in (
                "ungoverned_p95_vs_baseline",
                "governed_bulk_vs_ungoverned",
            )
            target = "" if bound is None else f"{'<=' if upper else '>='} {bound}"
            lines.append(
                f"| {LABELS[figure]} | {_fmt(spread['median'], 2)} "
                f"| {_fmt(spread['min'], 2)} - {_fmt(spread['max'], 2)} "
                f"| {target} | {verdict} |"
            )
        if data["figures"]["time_to_lease_p95_s"]["median"] is None:
            lines += [
                "",
                "No contention episode that began outside a lease was answered "
                "by one in any run, so there is no onset-to-lease time (in the "
                "windowed scenario the pre-window drain leases before each "
                "wave); the episodes without a lease are explained below.",
            ]
        explained = [
            (index + 1, item)
            for index, run in enumerate(runs)
            for item in run[data["mode"]].get("onsets_without_lease_explained", [])
        ]
        if explained:
            lines += ["", "Contention onsets without a lease:", ""]
            lines += [
                f"- run {run}, t = {item['t_s']} s: {item['why']}"
                for run, item in explained
            ]
        lines.append("")
    first = runs[0]
    lines += [
        "## First run, per mode",
        "",
        "| mode | critical calls | p50 ms | p95 ms | onset p95 ms | per-wave p95 ms "
        "| errors | bulk jobs/min | time to lease p95 s | transitions/min |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        r = first[mode]
        waves = ", ".join(_fmt(wave["p95_ms"], 0) for wave in r["waves"])
        lines.append(
            f"| {mode} | {r['calls']} | {_fmt(r['p50_ms'])} | {_fmt(r['p95_ms'])} "
            f"| {_fmt(r['onset_p95_ms'])} | {waves} | {r['errors']} "
            f"| {_fmt(r['bulk_jobs_per_min'])} "
            f"| {_fmt(r.get('time_to_lease_p95_s'), 2)} "
            f"| {_fmt(r.get('transitions_per_min'), 2)} |"
        )
    static = result["static_cap"]
    lines += [
        "",
        f"Static cap (first run) p95 = x{_fmt(static['static_cap_p95_vs_baseline'], 2)}"
        f" baseline, bulk throughput "
        f"{_fmt(_pct(static['static_cap_bulk_vs_ungoverned']), 0)}% of ungoverned. "
        f"Onset threshold {first['onset_threshold_ms']} ms (2x baseline p95, "
        "at least 100 ms).",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model'] or 'unknown'}), "
        f"{m['memory_gb']} GB RAM, PostgreSQL {m['postgresql']}, Python "
        f"{m['python']}, Odoo {m['odoo']} ({m['odoo_workers']} HTTP workers for "
        f"the pickers; jobs on a job server of "
        f"{m['job_server_workers']} workers, queue_job max "
        f"capacity {m['queue_job_max_capacity']}), governor interval "
        f"{m['governor_interval_s']} s; 1-min load average "
        f"{m['loadavg_1m_at_start']} at start, {m['loadavg_1m_at_end']} at end.",
    ]
    return "\n".join(lines) + "\n"


def _pct(ratio):
    return None if ratio is None else ratio * 100


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(MODES), 1, figsize=(11, 12), sharex=True, sharey=True)
    for ax, mode in zip(axes, MODES, strict=True):
        r = result["runs"][0][mode]
        ok = [s for s in r["samples"] if s["error"] is None]
        bad = [s for s in r["samples"] if s["error"] is not None]
        for start, end in result["bursts_s"]:
            ax.axvspan(start, end, color="0.9", zorder=0)
        ax.scatter(
            [s["t"] for s in ok], [max(s["ms"], 0.1) for s in ok], s=4, color="C0"
        )
        if bad:
            ax.scatter(
                [s["t"] for s in bad],
                [max(s["ms"], 0.1) for s in bad],
                s=12,
                marker="x",
                color="C3",
                label="error",
            )
        for index, (start, end) in enumerate(r.get("leases", [])):
            end = result["workload"]["mode_seconds"] if end is None else end
            ax.axvspan(
                start,
                end,
                color="C1",
                alpha=0.25,
                zorder=0,
                label="root.bulk leased" if index == 0 else None,
            )
            ax.axvline(start, color="C1", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylabel("ms")
        ax.set_title(
            f"{mode}: p50 {_fmt(r['p50_ms'])} ms, p95 {_fmt(r['p95_ms'])} ms, "
            f"bulk {_fmt(r['bulk_jobs_per_min'])}/min",
            fontsize=10,
            loc="left",
        )
        if r.get("leases") or bad:
            ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel(
        "seconds into the mode (grey: critical bursts; in governed_windowed, "
        "each one a scheduled window)"
    )
    fig.suptitle("Critical JSON-RPC latency (res.partner.write on hot rows), first run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench_machine.begin(args.verbose)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    settings = bench_machine.load_settings()
    if settings is None:
        return 2
    bench = Bench(args, settings, secrets.token_hex(4))
    try:
        bench.start()
        result = bench.run()
    except (BenchError, postgres.PostgresError, RuntimeError, psycopg2.Error) as exc:
        _logger.error("benchmark failed: %s", exc)
        return 1
    finally:
        bench.stop()
    json_path, _ = bench_machine.publish(
        result, args, "peak_contention", "Peak contention", table(result), indent=1
    )
    plot(result, json_path.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
