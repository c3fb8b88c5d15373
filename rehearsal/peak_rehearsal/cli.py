"""``peak-rehearsal``: seed a staging copy, rehearse the peak on it, report.

    peak-rehearsal seed   --url URL --db NAME [--scale S]
    peak-rehearsal run    --url URL --db NAME [--profile FILE] [--slo FILE]
    peak-rehearsal report RESULTS.json [--output DIR]

The password of ``--login`` comes from the environment only
(``PEAK_REHEARSAL_PASSWORD``), never from a flag. Exit codes: 0 every SLO
threshold met (or seed done), 1 a threshold failed or the run could not
finish, 2 bad input (a flag, a profile or an SLO file).
"""

import argparse
import logging
import os
import re
import shlex
import sys
from pathlib import Path

from .errors import InputError, RehearsalError

_logger = logging.getLogger("peak_rehearsal")
PASSWORD_ENV = "PEAK_REHEARSAL_PASSWORD"


def _url(value):
    if not value.startswith(("http://", "https://")) or " " in value:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


def _scale(value):
    from .dataset import MAX_SCALE, MIN_SCALE

    try:
        scale = float(value)
    except ValueError:
        scale = None
    if scale is None or not MIN_SCALE <= scale <= MAX_SCALE:
        raise argparse.ArgumentTypeError(
            f"{value!r}: a number {MIN_SCALE}..{MAX_SCALE}"
        )
    return scale


def parser():
    from .profile import shipped

    top = argparse.ArgumentParser(
        prog="peak-rehearsal", description=__doc__.split("\n")[0]
    )
    top.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING"]
    )
    commands = top.add_subparsers(dest="command", required=True)

    def target(sub):
        sub.add_argument(
            "--url",
            type=_url,
            default="http://127.0.0.1:8069",
            help="Odoo's base URL (the only address requests go to)",
        )
        sub.add_argument("--db", required=True, help="the staging database")
        sub.add_argument(
            "--login",
            default="admin",
            help=f"an administrator's login; password in ${PASSWORD_ENV}",
        )

    seed = commands.add_parser("seed", help="build a distributor's data set")
    target(seed)
    seed.add_argument("--scale", type=_scale, default=1, help="data size multiplier")
    seed.add_argument("--seed", type=int, default=42, help="random seed")

    run = commands.add_parser("run", help="rehearse a peak and check the SLOs")
    target(run)
    run.add_argument("--profile", type=Path, default=shipped("distributor.yaml"))
    run.add_argument("--slo", type=Path, default=shipped("slo.yaml"))
    run.add_argument("--output", type=Path, default=Path("rehearsal-report"))
    run.add_argument("--label", default="rehearsal", help="a name for this run")
    run.add_argument(
        "--dsn",
        default=os.environ.get("PEAK_REHEARSAL_DSN", ""),
        help="libpq DSN of a pg_monitor role: sample lock waits "
        "(default $PEAK_REHEARSAL_DSN)",
    )
    run.add_argument(
        "--no-background",
        action="store_true",
        help="users only: no queue_job jobs (a baseline)",
    )
    run.add_argument(
        "--i-know-this-is-not-production",
        action="store_true",
        help="rehearse on a database that seed did not mark",
    )

    report = commands.add_parser("report", help="render a results JSON again")
    report.add_argument("results", type=Path)
    report.add_argument("--output", type=Path, default=None)
    return top


def _password():
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise InputError(f"set {PASSWORD_ENV} to the password of --login")
    return password


def seed_command(args):
    from .rpc import OdooRPC
    from .seed import Seeder

    rpc = OdooRPC(
        args.url, args.db, args.login, _password(), timeout=900
    ).authenticate()
    Seeder(rpc, args.scale, args.seed).run()
    return 0


def run_command(args):
    from gevent import monkey

    monkey.patch_all()
    from .profile import load_profile
    from .report import write_report
    from .runner import Rehearsal
    from .slo import load_slo

    profile = load_profile(args.profile)  # bad files fail before any request
    slo = load_slo(args.slo)
    password = _password()
    print(
        f"rehearsal {profile.name!r} on {args.url} database {args.db}: "
        f"{profile.duration:.0f} s, "
        f"{sum(f.users for f in profile.flows.values())} users, "
        f"{0 if args.no_background else len(profile.job_schedule())} background jobs",
        flush=True,
    )
    results = Rehearsal(args, profile, slo, password, progress=_say).run()
    stem = f"rehearsal-{args.label}"
    json_path, html_path, md_path = write_report(results, args.output, stem)
    for check in results["slo_results"]:
        value = "-" if check["value"] is None else f"{round(check['value'], 1):g}"
        verdict = "PASS" if check["passed"] else "FAIL"
        print(
            f"  {verdict}  {check['name']:<32} {value} {check['op']} "
            f"{check['threshold']} {check['unit']}  {check.get('note') or ''}"
        )
    print(
        f"{'PASS' if results['passed'] else 'FAIL'}: report {html_path} ({json_path})"
    )
    return 0 if results["passed"] else 1


def report_command(args):
    from .report import render_from_json

    paths = render_from_json(args.results, args.output or args.results.parent)
    print("report:", ", ".join(str(p) for p in paths))
    return 0


_SECRETS = re.compile(r"(password\s*=\s*)\S+|(://[^/:@\s]+:)[^@\s]+(@)")


def masked(argv):
    """The command line as the report records it: a DSN's password or a
    URL's credentials replaced by ``***``."""
    return [
        _SECRETS.sub(lambda m: f"{m[1] or m[2]}***{m[3] or ''}", arg) for arg in argv
    ]


def _say(line):
    print(line, flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(name)s: %(message)s"
    )
    args.command_line = "peak-rehearsal " + shlex.join(masked(argv))
    commands = {"seed": seed_command, "run": run_command, "report": report_command}
    try:
        return commands[args.command](args)
    except InputError as exc:
        print(f"peak-rehearsal: {exc}", file=sys.stderr)
        return 2
    except RehearsalError as exc:
        print(f"peak-rehearsal: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("peak-rehearsal: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
