#!/usr/bin/env python3
"""Lease round-trip in queue_job's jobrunner: peak_queue leases vs. a reload.

The claim (peak_queue): a lease takes effect in the running jobrunner within
1 s, and applying or releasing one costs O(channels), not O(pending jobs).

Both paths are measured in the same run, against the same database holding
``--jobs`` pending jobs in ``root.bulk``, with queue_job's real
``QueueJobRunner`` and ``Database`` classes driven in-process (after
``jobrunner_patch.post_load()``, exactly as a server-wide peak_queue does):

- baseline, what an operator or governor does with plain queue_job: write
  ``paused`` on the ``queue_job_channel`` row and ``pg_notify('queue_job',
  'reload')``; the runner then calls ``_configure_db``, which rebuilds the
  channels and re-reads every job that is not done;
- lease: ``peak_queue_lease_acquire`` / ``peak_queue_lease_release``, which
  commit and ``NOTIFY peak_queue_lease``; the patched runner re-reads the
  active leases (one small query).

One sample runs from just before the writer's statement (its own autocommit
connection) until the runner has applied the change: ``select()`` on the
runner's connection until the notification is there, then
``runner.process_notifications()``. Each sample is checked against the
runner's in-memory channel (``paused``, ``leases.is_leased``, queue_job's own
``has_capacity()``), so a no-op cannot be timed.

No job can run: no Odoo HTTP server exists, ``run_jobs()`` is never called,
and ``_dispatch_job`` is replaced by a recorder all the same. The runner holds
queue_job's advisory lock for the whole run, so no other jobrunner can start
on the database meanwhile.

Usage (from the repository root)::

    .venv/bin/python bench/lease_roundtrip.py             # 100 000 jobs
    .venv/bin/python bench/lease_roundtrip.py --smoke     # 2 000 jobs, 3 rounds
    .venv/bin/python bench/lease_roundtrip.py --db NAME   # existing suite DB

Without ``--db`` a throw-away ``peak_bench_<hex>`` database is created with
the peak_dev tooling and dropped at the end, whatever happens.
"""

import gc
import json
import logging
import secrets
import selectors
import sys
import time
from contextlib import closing

import bench_machine  # beside this script; puts scripts/ on the path
import bench_stats
import psycopg2
from peak_dev import postgres

_logger = logging.getLogger("peak.bench")

CHANNEL = "root.bulk"
MODULES = ["queue_job", "peak_base", "peak_queue"]
DEFAULT_JOBS, DEFAULT_ROUNDS = 100_000, 20
SMOKE_JOBS, SMOKE_ROUNDS = 2_000, 3
FULL = {"jobs": DEFAULT_JOBS, "rounds": DEFAULT_ROUNDS}
SMOKE = {"jobs": SMOKE_JOBS, "rounds": SMOKE_ROUNDS}
WARMUP_ROUNDS = 1
LEASE_TTL_S = 120  # a crashed run's lease ends by itself
NOTIFY_TIMEOUT_S = 60
LOCK_TIMEOUT = "15s"
LEASE_BOUND_MS = 1000.0  # the bound: within 1 s

# One INSERT for all jobs. Rows are what queue_job's Job.store() writes for
# ``env["res.partner"].browse([]).with_delay(channel="root.bulk").write(...)``:
# JobSerialized JSON for records/args/kwargs, Serialized text for
# dependencies. The recordset is empty, so even a job run by mistake would
# change nothing.
INSERT_JOBS_SQL = """
INSERT INTO queue_job (
    uuid, name, state, channel, model_name, method_name, func_string,
    channel_method_name, records, args, kwargs, dependencies, priority, retry,
    max_retries, user_id, date_created
)
SELECT gen_random_uuid()::text, %(marker)s, 'pending', %(channel)s,
       'res.partner', 'write',
       'res.partner().write({''comment'': ''peak bench''})',
       '<res.partner>.write',
       jsonb_build_object('_type', 'odoo_recordset', 'model', 'res.partner',
                          'ids', jsonb_build_array(), 'uid', 1, 'su', true,
                          'context', jsonb_build_object()),
       jsonb_build_array(jsonb_build_object('comment', 'peak bench')),
       jsonb_build_object(),
       '{"depends_on": [], "reverse_depends_on": []}',
       10, 0, 5, 1, now() AT TIME ZONE 'utc'
  FROM generate_series(1, %(jobs)s)
"""


class BenchError(RuntimeError):
    """The benchmark cannot run (or measured something it should not)."""


def parse_args(argv):
    parser = bench_machine.arguments(
        "Lease round-trip in queue_job's jobrunner, vs. a reload.",
        f"{SMOKE_JOBS} jobs, {SMOKE_ROUNDS} rounds, *.smoke.* output files",
    )
    parser.add_argument(
        "--jobs", type=int, help=f"pending jobs (default {DEFAULT_JOBS})"
    )
    parser.add_argument(
        "--rounds", type=int, help=f"measured rounds (default {DEFAULT_ROUNDS})"
    )
    bench_machine.database_arguments(parser, MODULES)
    parser.add_argument("--verbose", action="store_true", help="Odoo logs at INFO")
    args = bench_machine.parse(parser, argv, SMOKE, FULL)
    if args.jobs < 1 or args.rounds < 1:
        parser.error("--jobs and --rounds must be >= 1")
    return args


def _query(conn, sql, params=None):
    with closing(conn.cursor()) as cr:
        cr.execute(sql, params)
        return cr.fetchall() if cr.description else None


def _stats(samples):
    return {**bench_stats.latency(samples), "samples": len(samples)}


class Harness:
    """The runner under test, a writer connection and the measuring loop."""

    def __init__(self, db_name, jobs, run_id):
        # Imported here: queue_job's jobrunner reads the parsed configuration
        # at import time.
        from odoo.addons.peak_queue import jobrunner_patch
        from odoo.addons.peak_queue.lib import leases
        from odoo.addons.queue_job.jobrunner import channels, runner

        self.leases = leases
        self.runner_mod = runner
        self.reload_payload = channels.RELOAD_PAYLOAD
        jobrunner_patch.post_load()  # what a server-wide peak_queue does
        self.db_name = db_name
        self.jobs = jobs
        self.marker = f"peak bench {run_id}"
        self.holder = f"peak-bench-{run_id}"
        self.runner = None
        self.writer = None
        self.selector = None
        self.checked = False  # nothing to give back before check_database()
        self.inserted = False
        self.original_paused = None
        self.dispatched = []
        self.resident = []  # (all jobs, root.bulk jobs) after each full load
        self.samples = {
            "baseline_pause": [],
            "baseline_resume": [],
            "lease_acquire": [],
            "lease_release": [],
        }

    # -- set-up ---------------------------------------------------------

    def connect_writer(self):
        info = dict(self.runner_mod._connection_info_for(self.db_name))
        info["application_name"] = "peak-bench-writer"
        self.writer = psycopg2.connect(**info)
        self.writer.autocommit = True
        _query(self.writer, f"SET lock_timeout = '{LOCK_TIMEOUT}'")

    def check_database(self):
        installed = dict(
            _query(
                self.writer,
                "SELECT name, state FROM ir_module_module WHERE name IN %s",
                (tuple(MODULES),),
            )
        )
        missing = [m for m in MODULES if installed.get(m) != "installed"]
        if missing:
            raise BenchError(f"{self.db_name}: not installed: {', '.join(missing)}")
        rows = _query(
            self.writer,
            "SELECT paused FROM queue_job_channel WHERE complete_name = %s",
            (CHANNEL,),
        )
        if not rows:
            raise BenchError(f"{self.db_name}: channel {CHANNEL} does not exist")
        self.original_paused = rows[0][0]
        if self.original_paused:
            raise BenchError(f"{CHANNEL} is paused in {self.db_name}: resume it first")
        leased = _query(self.writer, "SELECT channel FROM peak_queue_active_leases()")
        if (CHANNEL,) in leased:
            raise BenchError(f"{CHANNEL} is leased in {self.db_name}: release it first")
        self.checked = True

    def start_runner(self):
        runner_mod = self.runner_mod
        # Explicit arguments: the environment of `make test`
        # (ODOO_QUEUE_JOB_MAX_CAPACITY=0, maybe ODOO_QUEUE_JOB_CHANNELS) must
        # not change what is measured. No channels string: channels come from
        # queue_job_channel and a `reload` NOTIFY rebuilds them.
        self.runner = runner_mod.QueueJobRunner(
            channel_config_string="", max_capacity=1, db_max_capacity=""
        )

        # Harness stub of the HTTP call only: queue_job's _dispatch_job marks
        # the job enqueued and GETs /queue_job/runjob. run_jobs() is never
        # called here, this only makes sure nothing could start a job.
        def record_dispatch(job):
            self.dispatched.append(job.uuid)

        self.runner._dispatch_job = record_dispatch
        try:
            # Real queue_job code: Database() takes the master advisory lock,
            # LISTENs (patched: peak_queue_lease too) and _configure_db loads.
            self.runner.initialize_databases()
        except runner_mod.MasterElectionLost as exc:
            raise BenchError(
                f"another jobrunner holds queue_job's lock on {self.db_name}; "
                "stop that Odoo first (the bench must be the only runner)"
            ) from exc
        if self.db_name not in self.runner.db_by_name:
            raise BenchError(f"the jobrunner does not handle {self.db_name}")
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.db.conn, selectors.EVENT_READ)

    @property
    def db(self):
        return self.runner.db_by_name[self.db_name]

    @property
    def manager(self):
        return self.runner._channel_manager_by_db[self.db_name]

    def bulk_channel(self):
        return self.manager.get_channel_by_name(CHANNEL)

    def insert_jobs(self):
        """N pending jobs in one transaction, then one `reload` for the runner.

        queue_job's row trigger would NOTIFY the runner once per job; it is
        disabled inside this transaction only (other sessions never see it
        off: the ALTER locks out writers until COMMIT) and the runner loads
        the jobs through its normal reload instead.
        """
        started = time.perf_counter()
        with closing(self.writer.cursor()) as cr:
            cr.execute("BEGIN")
            try:
                cr.execute("ALTER TABLE queue_job DISABLE TRIGGER queue_job_notify")
                cr.execute(
                    INSERT_JOBS_SQL,
                    {"marker": self.marker, "channel": CHANNEL, "jobs": self.jobs},
                )
                inserted = cr.rowcount
                cr.execute("ALTER TABLE queue_job ENABLE TRIGGER queue_job_notify")
                cr.execute("SELECT pg_notify('queue_job', %s)", (self.reload_payload,))
                cr.execute("COMMIT")
            except BaseException:
                cr.execute("ROLLBACK")
                raise
            self.inserted = True
            cr.execute("ANALYZE queue_job")
        if inserted != self.jobs:
            raise BenchError(f"inserted {inserted} jobs instead of {self.jobs}")
        _logger.info(
            "inserted %s pending jobs in %s (%.1f s)",
            inserted,
            CHANNEL,
            time.perf_counter() - started,
        )
        started = time.perf_counter()
        self._wait_for("queue_job", self.reload_payload)
        self.runner.process_notifications()
        load_ms = (time.perf_counter() - started) * 1000
        self._record_resident()
        return load_ms

    def _record_resident(self):
        manager = self.manager
        bulk = self.bulk_channel()
        all_jobs = len(manager._jobs_by_uuid)
        bulk_jobs = len(bulk._queue) + len(bulk._running)
        if bulk_jobs < self.jobs:
            raise BenchError(
                f"the runner holds {bulk_jobs} jobs in {CHANNEL}, expected "
                f">= {self.jobs}: the reload did not load them"
            )
        self.resident.append((all_jobs, bulk_jobs))

    # -- measuring --------------------------------------------------------

    def _wait_for(self, channel, payload=None):
        """select() on the runner's connection until that notification is in."""
        conn = self.db.conn
        deadline = time.perf_counter() + NOTIFY_TIMEOUT_S

        def arrived():
            return any(
                n.channel == channel and (payload is None or n.payload == payload)
                for n in conn.notifies
            )

        while not arrived():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise BenchError(f"no NOTIFY {channel} within {NOTIFY_TIMEOUT_S} s")
            if self.selector.select(remaining):
                conn.poll()

    def _step(self, name, sql, params, notify_channel, payload, check):
        manager_before = self.manager
        gc.collect()  # the previous reload's garbage is not this sample's cost
        started = time.perf_counter()
        with closing(self.writer.cursor()) as cr:
            cr.execute(sql, params)
            result = cr.fetchall()
        self._wait_for(notify_channel, payload)
        self.runner.process_notifications()
        elapsed_ms = (time.perf_counter() - started) * 1000
        check(result, reloaded=self.manager is not manager_before)
        return name, elapsed_ms

    def _expect(self, step, reloaded, *, reload, paused, leased):
        bulk = self.bulk_channel()
        state = {
            "reloaded": reloaded,
            "paused": bool(bulk.paused),
            "leased": self.leases.is_leased(bulk),
            # queue_job's own decision (patched for leases); the channel has
            # nothing running: no job is ever dispatched here.
            "has_capacity": bulk.has_capacity(),
        }
        wanted = {
            "reloaded": reload,
            "paused": paused,
            "leased": leased,
            "has_capacity": not (paused or leased),
        }
        if state != wanted:
            raise BenchError(f"{step}: runner state {state}, expected {wanted}")
        if reload:
            self._record_resident()

    def baseline_step(self, paused):
        step = "baseline_pause" if paused else "baseline_resume"
        # One implicit transaction, as the ORM's write() + notify would be.
        sql = (
            "UPDATE queue_job_channel SET paused = %s WHERE complete_name = %s; "
            "SELECT pg_notify('queue_job', %s)"
        )

        def check(result, reloaded):
            self._expect(step, reloaded, reload=True, paused=paused, leased=False)

        return self._step(
            step,
            sql,
            (paused, CHANNEL, self.reload_payload),
            "queue_job",
            self.reload_payload,
            check,
        )

    def lease_step(self, acquire):
        if acquire:
            step = "lease_acquire"
            sql = "SELECT * FROM peak_queue_lease_acquire(%s, %s, %s, %s::jsonb, %s)"
            params = (
                CHANNEL,
                self.holder,
                "lease round-trip benchmark",
                json.dumps({"bench": "lease_roundtrip"}),
                LEASE_TTL_S,
            )
        else:
            step = "lease_release"
            sql = "SELECT peak_queue_lease_release(%s, %s, %s)"
            params = (CHANNEL, self.holder, "lease round-trip benchmark")

        def check(result, reloaded):
            if not acquire and result[0][0] != 1:
                raise BenchError(f"released {result[0][0]} leases instead of 1")
            self._expect(step, reloaded, reload=False, paused=False, leased=acquire)

        # The contract's NOTIFY payload is the database name.
        return self._step(
            step, sql, params, self.leases.NOTIFY_CHANNEL, self.db_name, check
        )

    def run_rounds(self, rounds):
        for index in range(WARMUP_ROUNDS + rounds):
            measured = []
            measured.append(self.baseline_step(paused=True))
            measured.append(self.baseline_step(paused=False))
            measured.append(self.lease_step(acquire=True))
            measured.append(self.lease_step(acquire=False))
            if index < WARMUP_ROUNDS:
                continue
            for name, elapsed_ms in measured:
                self.samples[name].append(elapsed_ms)
            _logger.info(
                "round %s/%s: %s",
                index + 1 - WARMUP_ROUNDS,
                rounds,
                ", ".join(f"{name} {ms:.1f} ms" for name, ms in measured),
            )
        if self.dispatched:
            raise BenchError(f"{len(self.dispatched)} jobs were handed to dispatch")

    # -- tear-down ------------------------------------------------------

    def close_runner(self):
        if self.selector is not None:
            self.selector.close()
            self.selector = None
        if self.runner is not None:
            # Releases queue_job's advisory lock with the connection.
            self.runner.close_databases(remove_jobs=False)
            self.runner = None

    def cleanup(self):
        """Give an existing database back as it was (jobs, leases, pause)."""
        if not self.checked:
            return
        with closing(self.writer.cursor()) as cr:
            cr.execute(
                "SELECT peak_queue_lease_release(%s, %s, 'benchmark cleanup')",
                (CHANNEL, self.holder),
            )
            cr.execute(
                "DELETE FROM peak_queue_lease_event WHERE holder = %s", (self.holder,)
            )
            cr.execute("DELETE FROM peak_queue_lease WHERE holder = %s", (self.holder,))
            cr.execute(
                "UPDATE queue_job_channel SET paused = %s WHERE complete_name = %s; "
                "SELECT pg_notify('queue_job', %s)",
                (self.original_paused, CHANNEL, self.reload_payload),
            )
            if self.inserted:
                # Same as the insert: no per-row NOTIFY for jobs nobody runs.
                cr.execute("BEGIN")
                try:
                    cr.execute("ALTER TABLE queue_job DISABLE TRIGGER queue_job_notify")
                    cr.execute(
                        "DELETE FROM queue_job WHERE channel = %s AND name = %s",
                        (CHANNEL, self.marker),
                    )
                    cr.execute("ALTER TABLE queue_job ENABLE TRIGGER queue_job_notify")
                    cr.execute("COMMIT")
                except BaseException:
                    cr.execute("ROLLBACK")
                    raise
                self.inserted = False

    def close_writer(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def run_benchmark(config, db_name, jobs, rounds, run_id, keep_database, verbose):
    odoo = bench_machine.odoo_for(config, db_name, verbose)
    harness = Harness(db_name, jobs, run_id)
    try:
        harness.connect_writer()
        harness.check_database()
        machine = bench_machine.machine(
            postgresql=_query(harness.writer, "SHOW server_version")[0][0],
            odoo=odoo.release.version,
        )
        harness.start_runner()
        load_ms = harness.insert_jobs()
        _logger.info("the runner loaded the jobs in %.0f ms", load_ms)
        harness.run_rounds(rounds)
    finally:
        try:
            harness.close_runner()
        finally:
            if keep_database and harness.writer is not None:
                harness.cleanup()
            harness.close_writer()
    machine["loadavg_1m_at_end"] = bench_machine.load_1m()
    return _result(harness, jobs, rounds, load_ms, machine)


def _result(harness, jobs, rounds, load_ms, machine):
    samples = harness.samples
    baseline = samples["baseline_pause"] + samples["baseline_resume"]
    lease = samples["lease_acquire"] + samples["lease_release"]
    base_stats, lease_stats = _stats(baseline), _stats(lease)
    return {
        "jobs": jobs,
        "rounds": rounds,
        "warmup_rounds": WARMUP_ROUNDS,
        "channel": CHANNEL,
        "baseline": {
            **base_stats,
            "what": "UPDATE queue_job_channel SET paused + pg_notify('queue_job', "
            "'reload') -> QueueJobRunner._configure_db",
        },
        "lease": {
            **lease_stats,
            "what": "peak_queue_lease_acquire / peak_queue_lease_release -> "
            "NOTIFY peak_queue_lease -> _refresh_leases",
        },
        "ratio_p50": round(base_stats["p50_ms"] / lease_stats["p50_ms"], 1),
        "ratio_p95": round(base_stats["p95_ms"] / lease_stats["p95_ms"], 1),
        "lease_p95_under_1s": lease_stats["p95_ms"] < LEASE_BOUND_MS,
        "steps": {name: _stats(values) for name, values in samples.items()},
        "runner": {
            "initial_load_ms": round(load_ms, 1),
            "resident_jobs_min": min(all_jobs for all_jobs, _ in harness.resident),
            "bulk_channel_jobs_min": min(bulk for _, bulk in harness.resident),
            "full_loads_checked": len(harness.resident),
            "dispatched": len(harness.dispatched),
        },
        "samples_ms": {
            name: [round(v, 3) for v in values] for name, values in samples.items()
        },
        "machine": machine,
    }


def _table(result):
    base, lease = result["baseline"], result["lease"]
    machine = result["machine"]
    lines = [
        f"Lease round-trip with {result['jobs']} pending jobs in {result['channel']}, "
        f"{result['rounds']} rounds ({base['samples']} samples per path)",
        "",
        "| path | writer | p50 ms | p95 ms | max ms |",
        "|---|---|---:|---:|---:|",
        f"| baseline | `paused` + `NOTIFY queue_job 'reload'` (`_configure_db`) "
        f"| {base['p50_ms']:.1f} | {base['p95_ms']:.1f} | {base['max_ms']:.1f} |",
        f"| lease | `peak_queue_lease_acquire/_release` (`_refresh_leases`) "
        f"| {lease['p50_ms']:.1f} | {lease['p95_ms']:.1f} | {lease['max_ms']:.1f} |",
        "",
        f"baseline / lease: p50 x{result['ratio_p50']}, p95 x{result['ratio_p95']}; "
        f"lease p95 under 1 s: {'yes' if result['lease_p95_under_1s'] else 'NO'}; "
        f"runner held {result['runner']['resident_jobs_min']} jobs "
        f"({result['runner']['bulk_channel_jobs_min']} in {result['channel']}).",
        "",
        bench_machine.machine_line(machine),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench_machine.begin(args.verbose)
    settings = bench_machine.load_settings()
    if settings is None:
        return 2
    run_id = secrets.token_hex(4)
    try:
        with bench_machine.odoo_database(
            settings, MODULES, f"peak_bench_{run_id}", args.db, args.odoo_config
        ) as scratch:
            result = run_benchmark(
                scratch.config,
                scratch.db_name,
                args.jobs,
                args.rounds,
                run_id,
                keep_database=not scratch.created,
                verbose=args.verbose,
            )
    except (BenchError, postgres.PostgresError, RuntimeError, psycopg2.Error) as exc:
        _logger.error("benchmark failed: %s", exc)
        return 1
    bench_machine.publish(
        result, args, "lease_roundtrip", "Lease round-trip", _table(result)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
