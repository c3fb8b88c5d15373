"""``make bench-real``: the governor's headline, measured on real Odoo flows.

One seeded distributor database (``peak-rehearsal seed``) is copied afresh
for every mode, so every mode starts from the same stock, orders and
sequences. On each copy: a web server for the users, a job server for
queue_job (``odoo_stack.OdooPair``), then ``peak-rehearsal run`` with the
profile (default ``black-friday.yaml``: distributor.yaml's people, a season
day's background), in four modes side by side:

- ``baseline``: the users alone, no background job;
- ``ungoverned``: the profile's background jobs, no governor;
- ``governed``: governor defaults, Peak mode on, the run inside a
  fulfillment window (the waves are announced);
- ``unannounced``: the same governor, Peak mode on, no window open.

Writes ``bench/results/rehearsal/rehearsal_real.{json,md,png}`` and each
mode's rehearsal report of the first run. Ratios are against the baseline of
the same run; the spread over ``--repeats`` runs is reported.
"""

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_machine  # beside this script; puts scripts/ on the path
import psycopg
import rehearsal_figures as figures
import requests
from bench_machine import RESULTS, ROOT
from odoo_stack import OdooPair, create_database, start_governor
from peak_dev import postgres

_logger = logging.getLogger("peak.bench.rehearsal")
MODULES = ["queue_job", "peak_base", "peak_queue", "peak_rehearsal"]
MODES = ("baseline", "ungoverned", "governed", "unannounced")
PROFILES = ROOT / "rehearsal" / "peak_rehearsal" / "profiles"
COMMAND = ROOT / ".venv-rehearsal" / "bin" / "peak-rehearsal"
WEB_WORKERS = 6  # the users' server: one worker per two users, as sized in k8s
QUEUE_CAPACITY = 3  # jobs at once on the job server
# The distributor runs its EDI imports three at a time (peak_queue ships
# root.bulk at 1): three bulk jobs at once is what makes them collide.
BULK_CAPACITY = 3
GOVERNOR_INTERVAL_S = 0.2
WARM_CALLS = 24


def parse_args(argv):
    parser = bench_machine.arguments(
        __doc__.split("\n")[0],
        "smoke.yaml at scale 0.1, one run: checks the bench works",
        output=RESULTS / "rehearsal",
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--profile", type=Path, default=PROFILES / "black-friday.yaml")
    parser.add_argument("--slo", type=Path, default=PROFILES / "slo.yaml")
    parser.add_argument("--scale", default="1")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--keep-logs", type=Path, default=None)
    args = bench_machine.parse(parser, argv)
    if args.smoke:
        args.profile, args.scale, args.repeats = PROFILES / "smoke.yaml", "0.1", 1
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - set(MODES)
    if unknown or not args.modes or not 1 <= args.repeats <= 10:
        parser.error(f"--modes from {', '.join(MODES)}; --repeats 1..10")
    return args


class Bench:
    def __init__(self, args, settings):
        self.args = args
        self.settings = settings
        self.run_id = secrets.token_hex(3)
        self.template = f"peak_bench_real_{self.run_id}"
        self.scratch = Path(tempfile.mkdtemp(prefix="peak_bench_real_"))
        self.password = secrets.token_urlsafe(16)
        self.databases = []

    # -- databases -------------------------------------------------------

    def _admin(self):
        return psycopg.connect(
            f"dbname=postgres user={self.settings.pg_superuser}", autocommit=True
        )

    def prepare_template(self):
        settings = self.settings
        self.databases.append(self.template)
        create_database(settings, self.scratch, self.template, MODULES, self.password)
        pair = OdooPair(settings, self.scratch, self.template).start(2, 1)
        try:
            self.rehearsal(
                "seed",
                "--url",
                pair.url,
                "--db",
                self.template,
                "--scale",
                self.args.scale,
            )
            rpc = figures.admin_rpc(pair.url, self.template, self.password)
            rpc.call("peak.mode", "set_peak_mode", True, "bench-real: peak season")
            channel = rpc.call(
                "queue.job.channel", "search", [("complete_name", "=", "root.bulk")]
            )
            rpc.call("queue.job.channel", "write", channel, {"capacity": BULK_CAPACITY})
        finally:
            pair.stop()

    def copy_of_template(self, mode, repeat):
        name = f"{self.template}_{mode[:4]}{repeat}"
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" '
                f'OWNER "{self.settings.db_user}"'
            )
        self.databases.append(name)
        filestore = self.scratch / "data" / "filestore"
        if (filestore / self.template).is_dir():
            shutil.copytree(filestore / self.template, filestore / name)
        return name

    def drop(self, name):
        if bench_machine.drop_database(self.settings, name):
            self.databases.remove(name)

    # -- one mode ----------------------------------------------------------

    def rehearsal(self, *args):
        env = dict(os.environ, PEAK_REHEARSAL_PASSWORD=self.password)
        done = subprocess.run(
            [str(COMMAND), *args], env=env, text=True, capture_output=True, check=False
        )
        if done.returncode not in (0, 1) or "Traceback" in done.stderr:
            raise RuntimeError(
                f"peak-rehearsal {args[0]} failed:\n{done.stderr[-3000:]}"
            )
        return done

    def run_mode(self, mode, repeat):
        db_name = self.copy_of_template(mode, repeat)
        pair = OdooPair(self.settings, self.scratch, db_name)
        logs = {name: self.scratch / f"{name}.log" for name in ("odoo", "odoo-jobs")}
        offsets = {n: p.stat().st_size if p.exists() else 0 for n, p in logs.items()}
        governor = None
        try:
            pair.start(WEB_WORKERS, QUEUE_CAPACITY)
            rpc = figures.admin_rpc(pair.url, db_name, self.password)
            # A copy under another name is no rehearsal target until marked.
            rpc.call("peak.rehearsal", "mark_target")
            if mode == "governed":
                figures.open_window_all_day(rpc)
            figures.warm(pair.url, db_name, self.password, WARM_CALLS)
            if mode in ("governed", "unannounced"):
                governor = start_governor(
                    self.settings,
                    db_name,
                    self.scratch / f"governor-{mode}.log",
                    f"bench-real-{mode}-{repeat}",
                    GOVERNOR_INTERVAL_S,
                )
            dsn = f"dbname={db_name} user={self.settings.governor_role}"
            out = self.scratch / "results"
            argv = [
                "run",
                "--url",
                pair.url,
                "--db",
                db_name,
                "--profile",
                str(self.args.profile),
                "--slo",
                str(self.args.slo),
                "--output",
                str(out),
                "--label",
                f"{mode}-{repeat}",
                "--dsn",
                dsn,
            ]
            if mode == "baseline":
                argv.append("--no-background")
            _logger.info("run %s, mode %s on %s", repeat + 1, mode, db_name)
            done = self.rehearsal(*argv)
            json_path = out / f"rehearsal-{mode}-{repeat}.json"
            if not json_path.exists():
                raise RuntimeError(f"mode {mode}: no results\n{done.stderr[-3000:]}")
            result = json.loads(json_path.read_text())
            result["governor_alive"] = governor.alive() if governor else None
            result["odoo_conflicts"] = {
                "web": figures.odoo_conflicts(logs["odoo"], offsets["odoo"]),
                "jobs": figures.odoo_conflicts(logs["odoo-jobs"], offsets["odoo-jobs"]),
            }
            return result, out / f"rehearsal-{mode}-{repeat}.html"
        finally:
            if governor is not None:
                governor.stop(grace_s=8)
            pair.stop()
            if self.args.keep_logs:
                self.args.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in self.scratch.glob("*.log"):
                    shutil.copy(log, self.args.keep_logs / f"{mode}{repeat}-{log.name}")
            self.drop(db_name)

    def run(self):
        self.prepare_template()
        runs = []
        for repeat in range(self.args.repeats):
            modes = {}
            for mode in self.args.modes:
                result, html = self.run_mode(mode, repeat)
                modes[mode] = result
                if repeat == 0 and not self.args.smoke:
                    self.args.output.mkdir(parents=True, exist_ok=True)
                    shutil.copy(html, self.args.output / f"{mode}.html")
            runs.append(modes)
        return runs

    def close(self):
        for name in list(reversed(self.databases)):
            self.drop(name)
        shutil.rmtree(self.scratch, ignore_errors=True)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    bench_machine.begin()
    if not COMMAND.exists():
        print(
            f"bench-real: {COMMAND} is missing: run `make bootstrap`", file=sys.stderr
        )
        return 2
    settings = bench_machine.load_settings()
    if settings is None:
        return 2
    bench = Bench(args, settings)
    started = time.monotonic()
    try:
        runs = bench.run()
    except (RuntimeError, requests.RequestException, postgres.PostgresError) as exc:
        print(f"bench-real: {exc}", file=sys.stderr)
        return 1
    finally:
        bench.close()
    machine = bench_machine.host()
    machine["loadavg_1m_at_end"] = bench_machine.load_1m()
    result = figures.build_result(runs, args, machine, time.monotonic() - started)
    bench_machine.publish(
        result,
        args,
        "rehearsal_real",
        "Governor on real Odoo flows (bench-real)",
        figures.table(result),
    )
    if not args.smoke:
        figures.plot(result, runs[0], args.output / "rehearsal_real.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
