#!/usr/bin/env python3
"""What the frozen-settings guard of peak_governance costs an ORM write.

``models/base.py`` overrides create/write/unlink of every model: a model off
the frozen list costs one cached lookup, a listed one (``ir.cron``) a freeze
check. In-process on a real registry, as the superuser, each op runs with the
guard and with it bypassed (``Base._peak_frozen_settings`` patched to return
``()``), in blocks in ABBA order, so machine noise hits both alike. An op is
the ORM call plus ``env.flush_all()``; each round is one transaction, rolled
back. Scenarios: ``res.partner.write`` of a name; ``ir.cron.write`` of
``interval_number`` (a frozen field) outside a freeze, and inside one (a peak
period around now) allowed by an approved exception: the full check path;
``res.partner.create`` of 100 records. See bench/README.md.

    .venv/bin/python bench/governance_guard.py [--smoke] [--db NAME]
"""

import gc
import logging
import secrets
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta

import bench_machine  # beside this script; puts scripts/ on the path
import bench_stats
import psycopg2
from peak_dev import postgres

_logger = logging.getLogger("peak.bench")

MODULES = ["queue_job", "peak_base", "peak_governance"]
CRON_XMLID = "peak_governance.ir_cron_peak_access_grant_digest"  # weekly
SETTING_XMLID = "peak_governance.frozen_setting_cron_schedule"
APPROVER_GROUP = "peak_governance.group_peak_change_approver"
FREEZE_LOGGER = "odoo.addons.peak_governance.models.peak_change_freeze"
BATCH, BLOCK_SIZE, LOOKUPS = 100, 10, 20_000
# Per scenario and round: block pairs (one guarded block, one bypassed) of
# BLOCK_SIZE writes, or of one create of BATCH records.
FULL, SMOKE = {"rounds": 30, "blocks": 20}, {"rounds": 2, "blocks": 2}
WARMUP_ROUNDS = 1
WHAT = {
    "partner_write": "`res.partner.write({'name': …})`, one record",
    "cron_write": "`ir.cron.write({'interval_number': …})`, no freeze",
    "cron_write_freeze": "same, in a freeze, approved exception",
    "partner_create_100": f"`res.partner.create`, {BATCH} records (per record)",
}


class BenchError(RuntimeError):
    """The benchmark cannot run (or measured something it should not)."""


def parse_args(argv):
    parser = bench_machine.arguments(
        "Cost of peak_governance's frozen-settings guard on ORM writes.",
        f"{SMOKE['rounds']} rounds of {SMOKE['blocks']} block pairs, *.smoke.* files",
    )
    parser.add_argument("--rounds", type=int, help=f"default {FULL['rounds']}")
    parser.add_argument("--blocks", type=int, help="block pairs per round")
    bench_machine.database_arguments(parser, MODULES)
    parser.add_argument("--verbose", action="store_true", help="Odoo logs at INFO")
    args = bench_machine.parse(parser, argv, SMOKE, FULL)
    if min(args.rounds, args.blocks) < 1:
        parser.error("--rounds and --blocks must be >= 1")
    return args


class Bench:
    """One registry cursor; each round a transaction rolled back at its end."""

    def __init__(self, odoo, cr, args, run_id):
        from odoo.addons.peak_governance.models.base import Base

        self.odoo, self.cr, self.args, self.run_id = odoo, cr, args, run_id
        self.marker = f"peak bench {run_id}"
        self.guard_cls, self.original = Base, Base.__dict__["_peak_frozen_settings"]
        self.samples = {name: {"guard": [], "bypass": []} for name in WHAT}
        self.round_p50 = {name: {"guard": [], "bypass": []} for name in WHAT}
        self.calls = {}  # scenario -> {model: guard calls in one op}
        self.refused = 0
        self.op = self.guarded_ops = 0
        self.create_blocks = max(1, args.blocks * 3 // 10)

    def env(self):
        return self.odoo.api.Environment(self.cr, self.odoo.SUPERUSER_ID, {})

    def bypass(self, on, method=None):
        self.guard_cls._peak_frozen_settings = method or (
            (lambda self: ()) if on else self.original
        )

    def check_database(self):
        env = self.env()
        if "peak_governance" not in env.registry._init_modules:
            raise BenchError(f"peak_governance is not installed in {self.cr.dbname}")
        for model in ("res.partner", "ir.cron"):
            if type(env[model])._peak_frozen_settings is not self.original:
                raise BenchError(f"{model} does not reach the guard: cannot bypass it")
        partner, frozen = env["res.partner"], env["ir.cron"]._peak_frozen_settings()
        if partner._peak_frozen_settings() or not frozen:
            raise BenchError("res.partner must be off the frozen list, ir.cron on it")
        if env["peak.change.freeze"].get_freeze().active:
            raise BenchError(f"changes are frozen now in {self.cr.dbname}")
        lookup = {}  # the guard's decision alone, for an unlisted model
        for on in (False, True):
            self.bypass(on)
            start = time.perf_counter_ns()
            for _ in range(LOOKUPS):
                partner._peak_frozen_settings()
            micros = (time.perf_counter_ns() - start) / LOOKUPS / 1000
            lookup["bypass" if on else "guard"] = round(micros, 3)
        self.bypass(False)
        cron_id = env.ref(CRON_XMLID).id
        self.cr.rollback()
        return cron_id, lookup

    def blocks(self, name, count, op, record, size=BLOCK_SIZE, warm=True):
        """``count`` block pairs, ABBA. The patch changes only between blocks;
        after each change one untimed op (``warm``) refills Python's method
        caches, which changing a class attribute empties."""
        env, samples = self.env(), self.samples[name]
        if name not in self.calls:  # guard calls by model, in one untimed op
            calls = self.calls[name] = Counter()
            original = self.original
            self.bypass(
                False, lambda model: calls.update([model._name]) or original(model)
            )
            try:
                op()
                env.flush_all()
            finally:
                self.bypass(False)
            self.op, self.guarded_ops = self.op + 1, self.guarded_ops + 1
        for i in range(count):
            for guarded in (True, False) if i % 2 == 0 else (False, True):
                self.bypass(not guarded)
                try:
                    for timed in [False] * warm + [True] * size:
                        start = time.perf_counter_ns()
                        op()
                        env.flush_all()
                        micros = (time.perf_counter_ns() - start) / 1000
                        self.op += 1
                        self.guarded_ops += guarded
                        if timed and record:
                            samples["guard" if guarded else "bypass"].append(micros)
                finally:
                    self.bypass(False)

    def round(self, cron_id, record):
        env, n = self.env(), self.args.blocks
        start = {
            (s, m): len(v)
            for s, modes in self.samples.items()
            for m, v in modes.items()
        }
        gc.collect()
        self.cr.execute("SET LOCAL lock_timeout = '15s'")
        partner = env["res.partner"].create({"name": self.marker})
        cron = env["ir.cron"].browse(cron_id)
        base = cron.interval_number

        def rename():
            partner.write({"name": f"{self.marker} {self.op}"})

        last = [base]

        def reschedule():  # a new value each time: the guard checks real changes
            last[0] = base + 2 if last[0] == base + 1 else base + 1
            cron.write({"interval_number": last[0]})

        def create():
            env["res.partner"].create(
                [{"name": f"{self.marker} {self.op}.{j}"} for j in range(BATCH)]
            )

        self.blocks("partner_write", n, rename, record)
        self.blocks("cron_write", n, reschedule, record)
        self.blocks("partner_create_100", self.create_blocks, create, record, 1, 0)
        exception = self.freeze(env, cron, base)
        used = env["peak.change.exception.log"].sudo().search_count
        domain = [("exception_id", "=", exception.id), ("event", "=", "used")]
        before = self.guarded_ops
        self.blocks("cron_write_freeze", n, reschedule, record)
        guarded = self.guarded_ops - before
        if used(domain) != guarded:  # one audit row per guarded write, none bypassed
            raise BenchError(f"{used(domain)} uses logged for {guarded} guarded writes")
        self.cr.rollback()
        for (name, mode), first in start.items():
            if record:  # each round's median: drift and spread over the run
                median = statistics.median(self.samples[name][mode][first:])
                per = BATCH if name == "partner_create_100" else 1
                self.round_p50[name][mode].append(round(median / per, 1))

    def freeze(self, env, cron, base):
        """A freezing period around now, a write it refuses, then an exception
        naming the cron schedules (superuser requests, a new user approves)."""
        Command, now = self.odoo.fields.Command, self.odoo.fields.Datetime.now()
        hour = timedelta(hours=1)
        env["peak.period"].create(
            {"name": self.marker, "date_start": now - hour, "date_end": now + 24 * hour}
        )
        freeze_logger = logging.getLogger(FREEZE_LOGGER)
        freeze_logger.disabled = True  # the refusal's warning is expected
        try:
            with self.cr.savepoint():
                cron.write({"interval_number": base + 5})
            raise BenchError("the guard let a frozen setting change in a freeze")
        except self.odoo.exceptions.UserError as exc:
            if "Settings are frozen" not in str(exc):
                raise  # e.g. the cron is running: not the guard's refusal
            self.refused += 1
        finally:
            freeze_logger.disabled = False
        cron.invalidate_recordset()
        groups = [env.ref("base.group_user").id, env.ref(APPROVER_GROUP).id]
        login = f"peak-bench-{self.run_id}-{self.op}"
        vals = {"name": self.marker, "login": login, "groups_id": [Command.set(groups)]}
        approver = env["res.users"].with_context(no_reset_password=True).create(vals)
        exception = env["peak.change.exception"].create(
            {
                "approver_id": approver.id,
                "reason": "peak bench: the guard's full check path",
                "setting_ids": [Command.set(env.ref(SETTING_XMLID).ids)],
                "expires_at": now + 2 * hour,
            }
        )
        exception.with_user(approver).action_approve()
        return exception

    def run(self, cron_id):
        try:
            for number in range(WARMUP_ROUNDS + self.args.rounds):
                self.round(cron_id, record=number >= WARMUP_ROUNDS)
                _logger.info("round %s of %s done", number, self.args.rounds)
        finally:
            self.bypass(False)
            self.cr.rollback()


def _summary(values, per):
    values = [v / per for v in values]
    out = {f"p{q}_us": round(bench_stats.percentile(values, q), 1) for q in (50, 95)}
    return {**out, "max_us": round(max(values), 1), "samples": len(values)}


def _scenario(name, samples, calls):
    per = BATCH if name == "partner_create_100" else 1
    guard, bypass = _summary(samples["guard"], per), _summary(samples["bypass"], per)
    paired = [g / b for g, b in zip(samples["guard"], samples["bypass"], strict=True)]
    return {
        "what": WHAT[name],
        "guard": guard,
        "bypass": bypass,
        "overhead_p50_us": round(guard["p50_us"] - bypass["p50_us"], 1),
        "ratio_p50": bench_stats.ratio(guard["p50_us"], bypass["p50_us"]),
        "ratio_p95": bench_stats.ratio(guard["p95_us"], bypass["p95_us"]),
        "paired_ratio_median": round(statistics.median(paired), 3),
        "guard_calls_per_op": sum(calls.values()),
        "guard_calls_by_model": calls,
    }


def _conclusion(result):
    s, lookup = result["scenarios"], result["lookup_us"]

    def cost(name):
        return f"{s[name]['overhead_p50_us']:+.1f} µs (x{s[name]['ratio_p50']})"

    return (
        f"Guard cost at p50: unlisted models {cost('partner_write')} per "
        f"res.partner write, {cost('partner_create_100')} per record created "
        f"(`_peak_frozen_settings()` alone: {lookup['guard']:.2f} µs, "
        f"bypassed {lookup['bypass']:.2f}); frozen ir.cron "
        f"{cost('cron_write')} per write outside a freeze, "
        f"{cost('cron_write_freeze')} in a freeze with an exception."
    )


def run_benchmark(config, db_name, args, run_id):
    odoo = bench_machine.odoo_for(config, db_name, args.verbose)
    cr = odoo.modules.registry.Registry(db_name).cursor()
    try:
        cr.execute("SHOW server_version")
        machine = bench_machine.machine(
            postgresql=cr.fetchone()[0], odoo=odoo.release.version
        )
        bench = Bench(odoo, cr, args, run_id)
        cron_id, lookup = bench.check_database()
        bench.run(cron_id)
    finally:
        cr.rollback()
        cr.close()
    machine["loadavg_1m_at_end"] = bench_machine.load_1m()
    result = {
        "smoke": bool(args.smoke),
        "rounds": args.rounds,
        "blocks": args.blocks,
        "create_blocks": bench.create_blocks,
        "warmup_rounds": WARMUP_ROUNDS,
        "block_size": BLOCK_SIZE,
        "batch": BATCH,
        "op": "ORM call + env.flush_all(), superuser; ABBA blocks, one untimed op "
        "after each switch; one transaction per round, rolled back",
        "marker": bench.marker,
        "cron": {"id": cron_id, "xmlid": CRON_XMLID},
        "lookup_us": lookup,
        "scenarios": {
            name: _scenario(name, bench.samples[name], bench.calls[name])
            for name in WHAT
        },
        "refused_without_exception": bench.refused,
        "round_p50_us": bench.round_p50,
        "machine": machine,
    }
    result["conclusion"] = _conclusion(result)
    return result


def _table(result):
    m = result["machine"]
    lines = [
        f"{result['rounds']} rounds, {result['blocks']} block pairs of "
        f"{result['block_size']} writes and {result['create_blocks']} pairs of "
        f"{result['batch']}-record creates per round; op = ORM call + flush; µs",
        "",
        "| op | guard p50 | p95 | bypass p50 | p95 | overhead p50 | ratio p50 "
        "| ratio p95 | guard calls/op |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in result["scenarios"].values():
        g, b = s["guard"], s["bypass"]
        lines.append(
            f"| {s['what']} | {g['p50_us']:.1f} | {g['p95_us']:.1f} "
            f"| {b['p50_us']:.1f} | {b['p95_us']:.1f} | {s['overhead_p50_us']:+.1f} "
            f"| x{s['ratio_p50']} | x{s['ratio_p95']} | {s['guard_calls_per_op']} |"
        )
    lines += [
        "",
        result["conclusion"],
        "",
        bench_machine.machine_line(m),
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
            result = run_benchmark(scratch.config, scratch.db_name, args, run_id)
    except (BenchError, postgres.PostgresError, RuntimeError, psycopg2.Error) as exc:
        _logger.error("benchmark failed: %s", exc)
        return 1
    bench_machine.publish(
        result, args, "governance_guard", "Frozen-settings guard", _table(result)
    )
    print(result["conclusion"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
