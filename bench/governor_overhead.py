#!/usr/bin/env python3
"""Governor overhead: pgbench TPS with the governor's sensor at 1 Hz, vs. without.

The claim (peak_governor): sampling a database at 1 Hz costs it nothing
measurable (pgbench TPS governed / baseline >= 0.99), and one sample stays
cheap at 300 connections.

What runs is the governor's sensor itself: ``peak_governor.sensor.Sensor``
``.sample(conn)`` on a psycopg connection opened with the daemon's own
``conninfo()`` (``application_name=peak-governor``, its statement and lock
timeouts), paced like ``daemon.run()``: one sample, then wait for the rest of
the 1 s interval. That one query (``SAMPLE_SQL``) is what every cycle reads
from PostgreSQL's shared state; the rest of a cycle is tiny reads and one
heartbeat on peak_queue's contract tables. The real ``peak-governor``
process cannot run here: it refuses a database without peak_queue's contract
(``peak_queue_contract_version()``), and pgbench's database has no Odoo.

Where: by default a private PostgreSQL 15 instance (initdb + pg_ctl in a
temporary directory, Unix socket only, ``max_connections`` = ``--connections``
+ 50, otherwise initdb's defaults; stopped and removed at the end), so the
sample is timed at the 300 client connections it claims instead of
extrapolated from the shared server's ``max_connections``; ``--server
shared`` uses the ``PEAK_*`` server as before (never reconfigured).

Two parts, one run, one throw-away database ``peak_bench_gov_<hex>`` (owner:
the ``PEAK_DB_USER`` role, initialised with ``pgbench -i``, dropped at the
end whatever happens):

1. throughput: pgbench rounds (default TPC-B-like script, ``-M prepared``),
   baseline (pgbench alone) and governed (pgbench + the sampler thread)
   interleaved in ABBA order (b g g b b g ...: a linear drift cancels) or, with
   ``--order alternate``, b g b g ..., after one warm-up run not counted;
2. sample cost: the server filled with idle connections up to ``--connections``
   (each tagged as an Odoo request that ran, as Odoo's pool leaves them: the
   sensor's demand query reads them all)
   (or as many as ``max_connections`` allows, minus ``--headroom`` slots left
   for others: the server is never reconfigured), then ``--samples``
   back-to-back samples with 0 waiters, then the same with ``--waiters``
   backends queued on a row lock another backend holds (so the
   ``pg_blocking_pids()`` branch runs), on the same connections.

Usage (from the repository root)::

    .venv/bin/python bench/governor_overhead.py            # 5 x 30 s per mode
    .venv/bin/python bench/governor_overhead.py --smoke    # 2 x 5 s, scale 1
    .venv/bin/python bench/governor_overhead.py --server shared   # PEAK_* server
"""

import logging
import math
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import bench_machine  # beside this script; puts scripts/ on the path
import bench_stats
import psycopg
from peak_dev import postgres
from psycopg import sql

from peak_governor.daemon import conninfo
from peak_governor.sensor import Sensor

_logger = logging.getLogger("peak.bench")
ROOT = Path(__file__).resolve().parents[1]

TARGET_RATIO = 0.99
INTERVAL_S = 1.0  # the governor's default --interval
DEFAULTS = {
    "rounds": 5,
    "seconds": 30,
    "scale": 10,
    "clients": 16,
    "jobs": 2,
    "warmup": 10,
    "connections": 300,
    "samples": 200,
}
SMOKE = {
    "rounds": 2,
    "seconds": 5,
    "scale": 1,
    "clients": 16,
    "jobs": 2,
    "warmup": 2,
    "connections": 50,
    "samples": 20,
}
WARMUP_SAMPLES = 10  # psycopg prepares a statement after its 5th execution
SCALING_SAMPLES = 50  # idle samples per point on the way up
HEADROOM = 10
ORDERS = ("abba", "alternate")
STEAL_NOTE_PCT = 1.0  # CPU steal worth a note in the table
WAITERS = 5
LOCK_WAIT_S = 10
CONNECT_TIMEOUT_S = 5
# Tags as peak_queue writes them (contract pk1): a bulk job holds the row, an
# interactive request waits on it, so attribution parses real roles.
BLOCKER_TAG = f"pk1|job|bulk|{uuid.uuid4().hex}|root.bulk"
WAITER_TAG = "pk1|http|sale.order.action_confirm"
IDLE_TAG = "pk1|http|stock.picking.button_validate"
SERVERS = ("private", "shared")
PRIVATE_SLACK = 50  # max_connections of the private server above --connections
LOCK_ROW_SQL = "UPDATE pgbench_branches SET bbalance = bbalance WHERE bid = 1"


class BenchError(RuntimeError):
    """The benchmark cannot run (or measured something it should not)."""


def parse_args(argv):
    parser = bench_machine.arguments(
        "pgbench TPS with the governor's sensor at 1 Hz vs. without, "
        "and the cost of one sample at many connections.",
        "2 rounds of 5 s, scale 1, 50 connections, 20 samples; "
        "*.smoke.* output files",
    )

    def option(name, help_text):
        parser.add_argument(
            f"--{name}",
            type=int,
            help=f"{help_text} (default {DEFAULTS[name]}, smoke {SMOKE[name]})",
        )

    option("rounds", "pgbench rounds per mode")
    option("seconds", "seconds per pgbench round")
    option("scale", "pgbench -i scale factor")
    option("clients", "pgbench -c")
    option("jobs", "pgbench -j")
    option("warmup", "seconds of the uncounted warm-up pgbench run (0: none)")
    option("connections", "client backends on the server while sampling")
    option("samples", "timed samples per case (0 and N waiters)")
    parser.add_argument(
        "--order",
        choices=ORDERS,
        default="abba",
        help="abba (default): baseline, governed, governed, baseline, ... so "
        "linear drift cancels; alternate: baseline, governed, baseline, ...",
    )
    parser.add_argument(
        "--waiters",
        type=int,
        default=WAITERS,
        help=f"backends queued on a row lock (default {WAITERS})",
    )
    parser.add_argument(
        "--headroom",
        type=int,
        default=HEADROOM,
        help=f"connection slots always left free for others (default {HEADROOM})",
    )
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="private",
        help="private (default): a PostgreSQL instance of its own with "
        "max_connections for --connections; shared: the PEAK_* server",
    )
    parser.add_argument("--pgbench", help="pgbench binary (default: the server's)")
    args = bench_machine.parse(parser, argv, SMOKE, DEFAULTS)
    for name in ("rounds", "seconds", "scale", "clients", "jobs", "samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.warmup < 0 or args.headroom < 0 or args.waiters < 1:
        parser.error("--warmup and --headroom must be >= 0, --waiters >= 1")
    if args.connections < args.waiters + 3:
        parser.error("--connections must leave room for the waiters and a blocker")
    return args


# -- small helpers ------------------------------------------------------------


def _stats(samples_ms):
    return {**bench_stats.latency(samples_ms), "samples": len(samples_ms)}


def _p50(samples_ms):
    return round(bench_stats.percentile(samples_ms, 50), 3)


def _scalar(conn, query, params=None):
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()[0]


# Student's t, two-sided 95 %, by degrees of freedom (1.96 beyond 30).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365}
T95 |= {8: 2.306, 9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def _paired_ratio(baseline, governed):
    """Geometric mean of the per-round ratios governed_i / baseline_i (each
    pair adjacent in time) and its 95 % t-interval, or None with one round."""
    logs = [math.log(g / b) for b, g in zip(baseline, governed, strict=True)]
    centre = statistics.fmean(logs)
    if len(logs) < 2:
        return round(math.exp(centre), 4), None
    df = len(logs) - 1
    t = T95[max((k for k in T95 if k <= df), default=1)] if df <= 30 else 1.96
    half = t * statistics.stdev(logs) / math.sqrt(len(logs))
    return round(math.exp(centre), 4), [
        round(math.exp(centre - half), 4),
        round(math.exp(centre + half), 4),
    ]


def base_dsn(settings):
    """libpq conninfo of the PEAK_* role (no dbname)."""
    parts = {"user": settings.db_user, "port": settings.db_port}
    if settings.db_host:
        parts["host"] = settings.db_host
    if settings.db_password:
        parts["password"] = settings.db_password
    return psycopg.conninfo.make_conninfo(**parts)


def connect(dsn, dbname, application_name, autocommit=True):
    return psycopg.connect(
        psycopg.conninfo.make_conninfo(
            dsn,
            dbname=dbname,
            application_name=application_name,
            connect_timeout=CONNECT_TIMEOUT_S,
        ),
        autocommit=autocommit,
    )


def find_pgbench(explicit, server_major):
    if explicit:
        if not (shutil.which(explicit) or Path(explicit).is_file()):
            raise BenchError(f"--pgbench {explicit}: not found")
        return shutil.which(explicit) or explicit
    candidate = Path(f"/usr/lib/postgresql/{server_major}/bin/pgbench")
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("pgbench")
    if not found:
        raise BenchError(
            "pgbench not found: install PostgreSQL's client programs "
            f"(Debian: postgresql-client-{server_major}) or pass --pgbench PATH"
        )
    return found


# -- pgbench --------------------------------------------------------------------


class PgBench:
    def __init__(self, binary, settings, db_name):
        self.binary = binary
        self.db_name = db_name
        self.env = dict(os.environ)
        self.conn_args = ["-p", str(settings.db_port), "-U", settings.db_user]
        if settings.db_host:
            self.conn_args += ["-h", settings.db_host]
        if settings.db_password:
            self.env["PGPASSWORD"] = settings.db_password

    def _run(self, args, timeout):
        argv = [self.binary, *args, *self.conn_args, self.db_name]
        # subprocess.run kills pgbench if anything (SIGTERM, Ctrl-C) interrupts.
        done = subprocess.run(
            argv,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(
                f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr[-2000:]}"
            )
        return done.stdout + done.stderr

    def version(self):
        done = subprocess.run(
            [self.binary, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"{self.binary} --version: exit {done.returncode}")
        return done.stdout.strip()

    def init(self, scale):
        started = time.perf_counter()
        self._run(["-i", "-q", "-s", str(scale)], timeout=3600)
        _logger.info("pgbench -i -s %s in %.1f s", scale, time.perf_counter() - started)

    def run(self, clients, jobs, seconds):
        out = self._run(
            ["-c", str(clients), "-j", str(jobs), "-T", str(seconds), "-M", "prepared"],
            timeout=seconds + 600,
        )
        tps = re.search(r"^tps = ([0-9.]+) \(without initial connection", out, re.M)
        done = re.search(
            r"^number of transactions actually processed: (\d+)", out, re.M
        )
        failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
        latency = re.search(r"^latency average = ([0-9.]+) ms", out, re.M)
        if not (tps and done):
            raise BenchError(f"cannot read pgbench's output:\n{out[-2000:]}")
        return {
            "tps": round(float(tps.group(1)), 1),
            "transactions": int(done.group(1)),
            "failed": int(failed.group(1)) if failed else 0,
            "latency_ms": float(latency.group(1)) if latency else None,
        }


# -- the governor's sampler -----------------------------------------------------


class Sampler(threading.Thread):
    """The daemon's sampling, alone: Sensor.sample() every ``interval``."""

    def __init__(self, dsn, db_name, interval=INTERVAL_S):
        super().__init__(name="peak-governor-sampler", daemon=True)
        self.dsn = dsn
        self.db_name = db_name
        self.interval = interval
        self.stop_event = threading.Event()
        self.connected = threading.Event()
        self.durations_ms = []
        self.waiters = []
        self.error = None

    def run(self):
        try:
            with psycopg.connect(
                conninfo(self.dsn, self.db_name), autocommit=True
            ) as conn:
                sensor = Sensor(self.db_name)
                self.connected.set()
                while True:
                    started = time.monotonic()
                    clock = time.perf_counter()
                    sample = sensor.sample(conn)
                    self.durations_ms.append((time.perf_counter() - clock) * 1000)
                    self.waiters.append(len(sample.waiters))
                    # As daemon.run(): the rest of the interval, then again.
                    remaining = self.interval - (time.monotonic() - started)
                    if self.stop_event.wait(max(0.0, remaining)):
                        break
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.connected.set()

    def start_and_wait(self):
        self.start()
        self.connected.wait(CONNECT_TIMEOUT_S + 5)
        self._raise()

    def stop(self):
        self.stop_event.set()
        self.join(CONNECT_TIMEOUT_S + 5)
        self._raise()

    def _raise(self):
        if self.error is not None:
            raise BenchError(f"the sampler failed: {self.error}") from self.error


def _others(admin, db_name):
    """Client backends of other databases: a `make test` next door shows here."""
    with admin.cursor() as cur:
        cur.execute(
            "SELECT coalesce(datname, '-'), count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' "
            "AND datname IS DISTINCT FROM %s GROUP BY 1 ORDER BY 1",
            (db_name,),
        )
        return dict(cur.fetchall())


def _checkpoints(admin):
    """Checkpoints so far: one during a round costs it full-page writes."""
    return _scalar(
        admin,
        "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter",
    )


def _cpu_times():
    """(idle + iowait, steal, total) jiffies of all CPUs, from /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal guest guest_nice
    return values[3] + values[4], values[7], sum(values[:8])


def _cpu_usage(before, after):
    if not (before and after) or after[2] <= before[2]:
        return {}
    total = after[2] - before[2]
    return {
        "cpu_idle_pct": round(100 * (after[0] - before[0]) / total, 1),
        "cpu_steal_pct": round(100 * (after[1] - before[1]) / total, 1),
    }


def run_throughput(args, pgbench, admin, dsn, db_name):
    """Warm-up, then baseline/governed/baseline/... ``args.rounds`` each."""
    if args.warmup:
        _logger.info("warm-up: pgbench %s s (not counted)", args.warmup)
        pgbench.run(args.clients, args.jobs, args.warmup)
    rounds = []
    samplers = []
    for index in range(args.rounds):
        modes = ("baseline", "governed")
        if args.order == "abba" and index % 2:
            modes = modes[::-1]
        for mode in modes:
            entry = {"round": index + 1, "mode": mode}
            others_before = _others(admin, db_name)
            checkpoints_before = _checkpoints(admin)
            cpu_before = _cpu_times()
            sampler = None
            if mode == "governed":
                sampler = Sampler(dsn, db_name)
                sampler.start_and_wait()
            try:
                entry.update(pgbench.run(args.clients, args.jobs, args.seconds))
            finally:
                if sampler is not None:
                    sampler.stop()
            entry.update(_cpu_usage(cpu_before, _cpu_times()))
            entry["loadavg_1m_at_end"] = bench_machine.load_1m()
            entry["others_at_start"] = others_before
            entry["others_at_end"] = _others(admin, db_name)
            entry["checkpoints"] = _checkpoints(admin) - checkpoints_before
            if sampler is not None:
                # pgbench also connects and vacuums before its timed part.
                if len(sampler.durations_ms) < args.seconds * 0.9 / INTERVAL_S:
                    raise BenchError(
                        f"round {index + 1}: only {len(sampler.durations_ms)} "
                        f"samples in {args.seconds} s: the sampler fell behind"
                    )
                entry["samples"] = len(sampler.durations_ms)
                entry["sampling_ms_total"] = round(sum(sampler.durations_ms), 1)
                entry["waiters_seen_max"] = max(sampler.waiters)
                samplers.append(sampler)
            if entry["tps"] <= 0:
                raise BenchError(f"round {index + 1} {mode}: no transaction")
            rounds.append(entry)
            _logger.info(
                "round %s/%s %-8s %8.1f TPS, CPU idle %s%%, others %s%s",
                index + 1,
                args.rounds,
                mode,
                entry["tps"],
                entry.get("cpu_idle_pct", "?"),
                entry["others_at_start"] or "-",
                f" ({entry['samples']} samples)" if sampler else "",
            )
    durations = [ms for s in samplers for ms in s.durations_ms]
    waiters = [n for s in samplers for n in s.waiters]
    under_load = {
        **_stats(durations),
        # Wall time spent in sample() per second of governed pgbench: an upper
        # bound of the sampler's share of one CPU (it includes waiting for one).
        "busy_fraction": round(sum(durations) / 1000 / (args.rounds * args.seconds), 5),
        "waiters_mean": round(statistics.fmean(waiters), 2),
        "waiters_max": max(waiters),
        "samples_with_waiters": sum(1 for n in waiters if n),
    }
    return rounds, under_load


# -- the cost of one sample at many connections ---------------------------------


def _client_backends(admin):
    return _scalar(
        admin,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
    )


def _connection_plan(admin, requested, headroom):
    max_conn = int(_scalar(admin, "SHOW max_connections"))
    reserved = int(_scalar(admin, "SHOW superuser_reserved_connections"))
    clients = _client_backends(admin)
    allowed = max_conn - reserved - headroom
    target = min(requested, allowed)
    plan = {
        "requested": requested,
        "max_connections": max_conn,
        "superuser_reserved_connections": reserved,
        "headroom": headroom,
        "client_backends_before": clients,
        "limited": target < requested,
    }
    return target, plan


def _wait_for_waiters(admin, db_name, pids):
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        queued = _scalar(
            admin,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND wait_event_type = 'Lock' AND pid = ANY(%s)",
            (db_name, pids),
        )
        if queued == len(pids):
            return
        time.sleep(0.05)
    raise BenchError(f"the waiters did not queue on the row lock in {LOCK_WAIT_S} s")


class SampleCost:
    """Idle connections up to a target, a blocker and waiters among them, and
    the sensor on the daemon's kind of connection."""

    def __init__(self, admin, dsn, db_name):
        self.admin = admin
        self.dsn = dsn
        self.db_name = db_name
        self.sensor = Sensor(db_name)
        self.conns = []
        self.threads = []
        self.sensor_conn = self.blocker = None
        self.waiters = []

    def open(self, waiters):
        """The sensor's connection (the daemon's conninfo), a root.bulk job's
        session and ``waiters`` interactive ones, all idle for now."""
        self.sensor_conn = self._open(conninfo(self.dsn, self.db_name), True)
        self.blocker = self._open(self._conninfo(BLOCKER_TAG), False)
        self.waiters = [
            self._open(self._conninfo(WAITER_TAG), True) for _ in range(waiters)
        ]

    def _conninfo(self, application_name):
        return psycopg.conninfo.make_conninfo(
            self.dsn,
            dbname=self.db_name,
            application_name=application_name,
            connect_timeout=CONNECT_TIMEOUT_S,
        )

    def _open(self, info, autocommit):
        try:
            conn = psycopg.connect(info, autocommit=autocommit)
        except psycopg.OperationalError as exc:
            raise BenchError(
                f"connection {len(self.conns) + 1} refused ({exc}): others took "
                "the slots meanwhile; re-run, or lower --connections"
            ) from exc
        self.conns.append(conn)
        return conn

    def fill(self, target):
        """Idle connections until the server has ``target`` client backends,
        counted before each one (sessions others open meanwhile take the place
        of ours, so the headroom stays free). On the way up, idle samples at a
        quarter, half and three quarters: how the sample grows with the
        connections, what is left of the claim when 300 cannot be reached."""
        steps = [target * k // 4 for k in (1, 2, 3)]
        points = []
        clients = _client_backends(self.admin)
        while clients < target:
            if steps and clients >= steps[0]:
                steps = [step for step in steps if step > clients]
                total_ms, _ = self.time(SCALING_SAMPLES, self.calm)
                points.append(
                    {
                        "connections": clients,
                        "idle_p50_ms": _p50(total_ms),
                    }
                )
            # Odoo's pool keeps a request's tag on an idle connection: the
            # sensor's demand query reads every one of them.
            self._open(self._conninfo(IDLE_TAG), True)
            clients = _client_backends(self.admin)
        return clients, points

    def time(self, count, check):
        """``count`` samples back to back (after WARMUP_SAMPLES untimed):
        (whole sample() ms, the sensor's query-only ms)."""
        for _ in range(WARMUP_SAMPLES):
            check(self.sensor.sample(self.sensor_conn))
        total_ms, query_ms = [], []
        for _ in range(count):
            clock = time.perf_counter()
            sample = self.sensor.sample(self.sensor_conn)
            total_ms.append((time.perf_counter() - clock) * 1000)
            query_ms.append(sample.duration_seconds * 1000)
            check(sample)
        return total_ms, query_ms

    @staticmethod
    def calm(sample):
        if sample.waiters:
            raise BenchError(f"{len(sample.waiters)} unexpected waiters")

    def queue_waiters(self):
        """The blocker takes a row; every waiter queues behind it."""
        self.blocker.execute(LOCK_ROW_SQL)
        for conn in self.waiters:

            def wait(conn=conn):
                try:
                    conn.execute(LOCK_ROW_SQL)
                except psycopg.Error:
                    pass

            thread = threading.Thread(target=wait, daemon=True)
            thread.start()
            self.threads.append(thread)
        pids = [c.info.backend_pid for c in self.waiters]
        _wait_for_waiters(self.admin, self.db_name, pids)

    def locked(self, sample):
        blocker_pid = self.blocker.info.backend_pid
        if len(sample.waiters) != len(self.waiters):
            raise BenchError(
                f"the sample saw {len(sample.waiters)} waiters, "
                f"not {len(self.waiters)}"
            )
        if blocker_pid not in sample.blockers:
            raise BenchError("the sample did not name the blocker")
        if sample.blockers[blocker_pid].role_label != "bulk":
            raise BenchError("the blocker was not attributed to root.bulk")

    def close(self):
        if self.blocker is not None and not self.blocker.closed:
            self.blocker.rollback()  # the waiters go through and finish
        for thread in self.threads:
            thread.join(LOCK_WAIT_S)
        for conn in self.conns:
            conn.close()


def measure_sample_cost(args, admin, dsn, db_name):
    """Fill the server with idle connections, then time samples with 0 and
    ``args.waiters`` backends queued on a row lock, on the same connections."""
    target, plan = _connection_plan(admin, args.connections, args.headroom)
    # The bench opens the sensor's connection, the blocker, the waiters and
    # idle ones (its admin connection is already in client_backends_before).
    free = target - plan["client_backends_before"]
    if free < args.waiters + 2:
        raise BenchError(
            f"only {free} connection slots to open (max_connections "
            f"{plan['max_connections']}, {plan['client_backends_before']} in use, "
            f"headroom {args.headroom}): not enough for {args.waiters} waiters"
        )
    bench = SampleCost(admin, dsn, db_name)
    try:
        bench.open(args.waiters)
        clients, scaling = bench.fill(target)
        _logger.info(
            "%s client backends on the server (%s opened by the bench)",
            clients,
            len(bench.conns),
        )
        cpu_before = _cpu_times()
        idle_ms, idle_query_ms = bench.time(args.samples, bench.calm)
        bench.queue_waiters()
        wait_ms, wait_query_ms = bench.time(args.samples, bench.locked)
        cpu = _cpu_usage(cpu_before, _cpu_times())
        clients_after = _client_backends(admin)
        others = _others(admin, db_name)
        opened = len(bench.conns)
    finally:
        bench.close()
    waited, idle = _stats(wait_ms), _stats(idle_ms)
    return {
        "connections": min(clients, clients_after),
        "opened_by_bench": opened,
        "waiters": args.waiters,
        "p50_ms": waited["p50_ms"],
        "p95_ms": waited["p95_ms"],
        "max_ms": waited["max_ms"],
        "query_p50_ms": _p50(wait_query_ms),
        "idle_p50_ms": idle["p50_ms"],
        "idle_p95_ms": idle["p95_ms"],
        "idle_max_ms": idle["max_ms"],
        "idle_query_p50_ms": _p50(idle_query_ms),
        "idle_by_connections": [
            *scaling,
            {"connections": clients, "idle_p50_ms": idle["p50_ms"]},
        ],
        "samples": args.samples,
        "warmup_samples": WARMUP_SAMPLES,
        **cpu,
        "others_at_end": others,
        "connection_plan": plan,
    }


# -- report ---------------------------------------------------------------------


def _machine(admin, pgbench_version):
    return bench_machine.machine(
        postgresql=_scalar(admin, "SHOW server_version"),
        pgbench=pgbench_version,
        shared_buffers=_scalar(admin, "SHOW shared_buffers"),
        synchronous_commit=_scalar(admin, "SHOW synchronous_commit"),
    )


def build_result(args, db_name, rounds, under_load, sample, machine):
    baseline = [r["tps"] for r in rounds if r["mode"] == "baseline"]
    governed = [r["tps"] for r in rounds if r["mode"] == "governed"]
    ratio_median = statistics.median(governed) / statistics.median(baseline)
    ratio_mean = statistics.fmean(governed) / statistics.fmean(baseline)
    geomean, ci95 = _paired_ratio(baseline, governed)
    spread = (
        round(100 * statistics.stdev(baseline) / statistics.fmean(baseline), 1)
        if len(baseline) > 1
        else None
    )
    return {
        "pgbench": {
            "clients": args.clients,
            "jobs": args.jobs,
            "seconds": args.seconds,
            "scale": args.scale,
            "rounds": args.rounds,
            "warmup_seconds": args.warmup,
            "script": "tpcb-like (default), -M prepared",
            "order": args.order,
            "sequence": [f"{r['mode'][0]}{r['round']}" for r in rounds],
        },
        "baseline_tps": baseline,
        "governed_tps": governed,
        "ratio_median": round(ratio_median, 4),
        "ratio_mean": round(ratio_mean, 4),
        "round_ratios": [
            round(g / b, 4) for b, g in zip(baseline, governed, strict=True)
        ],
        "round_ratio_geomean": geomean,
        "round_ratio_ci95": ci95,
        "baseline_cv_pct": spread,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio_median >= TARGET_RATIO,
        # The run resolves the target only when the interval's low end meets it.
        "target_met_at_ci95_low": bool(ci95 and ci95[0] >= TARGET_RATIO),
        "sampler": {
            "interval_s": INTERVAL_S,
            "what": "peak_governor.sensor.Sensor.sample() on a connection from "
            "peak_governor.daemon.conninfo(), in a thread of the bench process",
            **under_load,
        },
        "sample": sample,
        "rounds_detail": rounds,
        "database": db_name,
        "machine": machine,
    }


def _limit_note(sample):
    plan = sample["connection_plan"]
    if not plan["limited"]:
        return ""
    return (
        f"{plan['requested']} connections requested: the server allows "
        f"max_connections = {plan['max_connections']} "
        f"({plan['superuser_reserved_connections']} reserved for superusers), "
        f"so the samples were timed at {sample['connections']} client backends, "
        f"{plan['headroom']} slots left free for others; the server was not "
        "reconfigured."
    )


def _disturbances(entry):
    """What else happened during a round: sessions of other databases (most
    seen at its start or end), checkpoints, CPU taken by the hypervisor."""
    found = []
    others = max(
        sum(entry["others_at_start"].values()), sum(entry["others_at_end"].values())
    )
    if others:
        found.append(f"{others} other sessions")
    if entry["checkpoints"]:
        found.append(f"{entry['checkpoints']} checkpoint")
    if entry.get("cpu_steal_pct", 0) >= STEAL_NOTE_PCT:
        found.append(f"steal {entry['cpu_steal_pct']}%")
    return ", ".join(found) or "-"


def _server_note(result):
    server = result.get("server") or {}
    if server.get("kind") == "private":
        return (
            "a private PostgreSQL instance (max_connections "
            f"{server['max_connections']}, otherwise initdb's defaults)"
        )
    return "the shared PEAK_* server"


def _table(result):
    bench, sample, machine = result["pgbench"], result["sample"], result["machine"]
    under = result["sampler"]
    baseline, governed = result["baseline_tps"], result["governed_tps"]
    lines = [
        f"pgbench -c {bench['clients']} -j {bench['jobs']} -T {bench['seconds']} "
        f"-M prepared (TPC-B-like), scale {bench['scale']}, {bench['rounds']} rounds "
        f"per mode, interleaved: {' '.join(bench['sequence'])}",
        "",
        "| round | baseline TPS | governed TPS (sensor at 1 Hz) "
        "| governed / baseline | disturbances (b / g) |",
        "|---:|---:|---:|---:|---|",
    ]
    detail = {(r["round"], r["mode"]): r for r in result["rounds_detail"]}
    for index, (b, g) in enumerate(zip(baseline, governed, strict=True), 1):
        base, gov = detail[index, "baseline"], detail[index, "governed"]
        lines.append(
            f"| {index} | {b:.1f} | {g:.1f} | {g / b:.3f} "
            f"| {_disturbances(base)} / {_disturbances(gov)} |"
        )
    ci95 = result["round_ratio_ci95"]
    ci_text = f"[{ci95[0]:.3f}, {ci95[1]:.3f}]" if ci95 else "n/a (one round)"
    lines += [
        f"| median | {statistics.median(baseline):.1f} "
        f"| {statistics.median(governed):.1f} | **{result['ratio_median']:.3f}** "
        "| |",
        f"| mean | {statistics.fmean(baseline):.1f} "
        f"| {statistics.fmean(governed):.1f} | {result['ratio_mean']:.3f} | |",
        "",
        f"governed / baseline: median {result['ratio_median']:.3f}, mean "
        f"{result['ratio_mean']:.3f} (target >= {result['target_ratio']}: "
        f"{'met' if result['target_met'] else 'NOT met'}). Paired rounds: "
        f"geometric mean {result['round_ratio_geomean']:.3f}, 95 % interval "
        f"{ci_text}; the baseline rounds alone vary by "
        f"{result['baseline_cv_pct']}% (coefficient of variation). Disturbances: "
        "sessions of other databases on the server, checkpoints and CPU steal "
        "during a round (b = its baseline run, g = its governed run).",
        "",
        f"The sampler took {under['samples']} samples during the governed rounds: "
        f"p50 {under['p50_ms']:.2f} ms, p95 {under['p95_ms']:.2f} ms, max "
        f"{under['max_ms']:.2f} ms; {under['samples_with_waiters']} of them saw "
        f"pgbench backends waiting on a lock (up to {under['waiters_max']}). "
        f"Time inside sample(): {100 * under['busy_fraction']:.3f}% of the "
        "governed rounds' wall time.",
        "",
        f"One sample at {sample['connections']} client backends "
        f"({sample['samples']} timed back to back after {sample['warmup_samples']} "
        f"untimed) on {_server_note(result)}; the idle ones tagged as Odoo "
        "requests that ran (the sensor's demand query reads each):",
        "",
        "| case | p50 ms | p95 ms | max ms | query p50 ms |",
        "|---|---:|---:|---:|---:|",
        f"| {sample['waiters']} waiters on a row lock | {sample['p50_ms']:.2f} "
        f"| {sample['p95_ms']:.2f} | {sample['max_ms']:.2f} "
        f"| {sample['query_p50_ms']:.2f} |",
        f"| 0 waiters | {sample['idle_p50_ms']:.2f} | {sample['idle_p95_ms']:.2f} "
        f"| {sample['idle_max_ms']:.2f} | {sample['idle_query_p50_ms']:.2f} |",
        "",
        "0 waiters on the way up (p50 ms at client backends): "
        + ", ".join(
            f"{p['idle_p50_ms']:.2f} at {p['connections']}"
            for p in sample["idle_by_connections"]
        )
        + ".",
        "",
        f"CPU while timing: idle {sample.get('cpu_idle_pct', '?')}%, steal "
        f"{sample.get('cpu_steal_pct', '?')}%; sessions of other databases: "
        f"{sum(sample['others_at_end'].values())}.",
    ]
    note = _limit_note(sample)
    if note:
        lines += ["", note]
    lines += [
        "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model'] or 'unknown'}), "
        f"{machine['memory_gb']} GB RAM, PostgreSQL {machine['postgresql']} "
        f"(shared_buffers {machine['shared_buffers']}, synchronous_commit "
        f"{machine['synchronous_commit']}), {machine['pgbench']}, Python "
        f"{machine['python']}; 1-min load average {machine['loadavg_1m_at_start']} "
        "before the run.",
    ]
    return "\n".join(lines) + "\n"


CONTRACT_SQL = ROOT / "addons" / "peak_queue" / "data" / "peak_queue_contract.sql"


def _create_database(dsn, db_name):
    with connect(dsn, "postgres", "peak-bench") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))
    # The DB contract as peak_queue installs it: the sensor reads sessions
    # through peak_queue_sessions() (v5). The bodies name Odoo's tables,
    # absent here: checked when called, as at an install.
    with connect(dsn, db_name, "peak-bench") as conn:
        conn.execute("SET check_function_bodies = off")
        conn.execute(CONTRACT_SQL.read_text())


def run_benchmark(args, settings, dsn, db_name):
    with connect(dsn, "postgres", "peak-bench") as probe:
        major = int(_scalar(probe, "SHOW server_version_num")) // 10000
    pgbench = PgBench(find_pgbench(args.pgbench, major), settings, db_name)
    version = pgbench.version()
    _logger.info("creating throw-away database %s", db_name)
    _create_database(dsn, db_name)
    pgbench.init(args.scale)
    with connect(dsn, db_name, "peak-bench-admin") as admin:
        machine = _machine(admin, version)
        rounds, under_load = run_throughput(args, pgbench, admin, dsn, db_name)
        sample = measure_sample_cost(args, admin, dsn, db_name)
    machine["loadavg_1m_at_end"] = bench_machine.load_1m()
    return build_result(args, db_name, rounds, under_load, sample, machine)


class PrivateServer:
    """A PostgreSQL instance of the bench's own, sized for --connections."""

    def __init__(self, connections, db_user):
        from peak_dev.pginstance import PrivatePostgres, make_root

        self.db_user = db_user
        self.server = PrivatePostgres(make_root("peak-bench-gov-"))
        self.max_connections = connections + PRIVATE_SLACK

    def start(self):
        self.server.initdb()
        self.server.configure(max_connections=self.max_connections)
        self.server.start()
        with psycopg.connect(self.server.dsn("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(
                    sql.Identifier(self.db_user)
                )
            )
        _logger.info(
            "private PostgreSQL on %s (max_connections %s)",
            self.server.root,
            self.max_connections,
        )
        return self

    def settings(self):
        """What PgBench and base_dsn read from the PEAK_* settings."""
        return SimpleNamespace(
            db_host=str(self.server.root),
            db_port=self.server.port,
            db_user=self.db_user,
            db_password=None,
        )

    def destroy(self):
        self.server.destroy()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench_machine.begin()
    settings = bench_machine.load_settings()
    if settings is None:
        return 2
    db_name = f"peak_bench_gov_{secrets.token_hex(4)}"
    private = None
    dsn = None
    try:
        if args.server == "private":
            private = PrivateServer(args.connections, settings.db_user).start()
            settings = private.settings()
        else:
            postgres.ensure_role(settings)
        dsn = base_dsn(settings)
        result = run_benchmark(args, settings, dsn, db_name)
        result["server"] = {
            "kind": args.server,
            "max_connections": private.max_connections if private else None,
        }
    except (BenchError, postgres.PostgresError, psycopg.Error) as exc:
        _logger.error("benchmark failed: %s", exc)
        return 1
    except subprocess.TimeoutExpired as exc:
        _logger.error("benchmark failed: %s timed out", exc.cmd[0])
        return 1
    except RuntimeError as exc:  # initdb / pg_ctl of the private server
        _logger.error("benchmark failed: %s", exc)
        return 1
    finally:
        # A second SIGTERM must not interrupt the clean-up.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if private is not None:
            private.destroy()
            _logger.info("private PostgreSQL stopped and removed")
        elif dsn is not None:
            bench_machine.drop_database(settings, db_name)
    bench_machine.publish(
        result, args, "governor_overhead", "Governor overhead", _table(result)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
