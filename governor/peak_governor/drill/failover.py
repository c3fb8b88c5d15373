"""``peak-governor drill failover``: stop and restart, one at a time, the
components given (governor, Redis, S3, PostgreSQL) with the operator's
commands, on a non-production stack; measure how fast the outage is detected
and how fast every probe is healthy again, against targets, and which other
probes noticed. Exit 0 every component recovered in time, 1 otherwise, 2 for
bad options.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from peak_settings import read_options

from .common import FAIL, PASS, DrillError
from .failover_options import (
    COMPONENTS,
    FAILOVER_OPTIONS,
    FailoverOptions,
    _pairs,
    _probes,
)


@dataclass
class FailoverResult:
    component: str
    status: str
    detected_seconds: float | None
    recovered_seconds: float | None
    impact: dict  # watcher -> seconds until it saw the outage, or None
    message: str


def _shell(command: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        shell=True,  # the operator's own command line
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=True,
    )


def _failover_one(name: str, opts: FailoverOptions, probes: dict) -> FailoverResult:
    own = probes[name]
    watchers = {k: v for k, v in probes.items() if k != name}
    unhealthy = [k for k, probe in probes.items() if not probe()]
    if unhealthy:
        return FailoverResult(
            name,
            FAIL,
            None,
            None,
            {},
            f"not healthy before the drill: {', '.join(unhealthy)}",
        )
    done = _shell(opts.stop[name], opts.timeout)
    if done.returncode:
        return FailoverResult(
            name,
            FAIL,
            None,
            None,
            {},
            f"stop command exited {done.returncode}: {done.stderr.strip()[-200:]}",
        )
    started = time.monotonic()
    detected = None
    impact = {k: None for k in watchers}
    deadline = started + opts.timeout
    # Detection, then keep it down for outage_seconds so its users notice.
    while time.monotonic() < deadline:
        now = time.monotonic() - started
        if detected is None and not own():
            detected = time.monotonic() - started
        for key, probe in watchers.items():
            if impact[key] is None and not probe():
                impact[key] = round(time.monotonic() - started, 2)
        if detected is not None and now >= detected + opts.outage_seconds:
            break
        time.sleep(0.2)
    done = _shell(opts.start[name], opts.timeout)
    if done.returncode:
        return FailoverResult(
            name,
            FAIL,
            detected,
            None,
            impact,
            f"start command exited {done.returncode}: {done.stderr.strip()[-200:]}",
        )
    restarted = time.monotonic()
    recovered = None
    while time.monotonic() < restarted + opts.timeout:
        if all(probe() for probe in probes.values()):
            recovered = time.monotonic() - restarted
            break
        time.sleep(0.2)
    problems = []
    if detected is None:
        problems.append("the outage was never detected")
    elif detected > opts.detect_target_seconds:
        problems.append(
            f"detected in {detected:.1f}s > {opts.detect_target_seconds:g}s"
        )
    if recovered is None:
        still = [k for k, probe in probes.items() if not probe()]
        problems.append(f"not recovered in {opts.timeout:g}s: {', '.join(still)} down")
    elif recovered > opts.recover_target_seconds:
        problems.append(
            f"recovered in {recovered:.1f}s > {opts.recover_target_seconds:g}s"
        )
    seen = ", ".join(
        f"{k} {'unaffected' if v is None else f'down after {v:g}s'}"
        for k, v in impact.items()
    )
    message = (
        "; ".join(problems)
        or f"recovered, every probe healthy ({seen or 'no watchers'})"
    )
    return FailoverResult(
        name, FAIL if problems else PASS, detected, recovered, impact, message
    )


def run_failover_drill(opts: FailoverOptions) -> list[FailoverResult]:
    probes = _probes(opts)
    return [_failover_one(name, opts, probes) for name in opts.components]


def render_failover_text(results: list[FailoverResult]) -> str:
    def secs(value):
        return "-" if value is None else f"{value:.1f}s"

    lines = [
        f"{'component':<10} {'status':<6} {'detected':>9} {'recovered':>10}  notes"
    ]
    for r in results:
        lines.append(
            f"{r.component:<10} {r.status.upper():<6} {secs(r.detected_seconds):>9} "
            f"{secs(r.recovered_seconds):>10}  {r.message}"
        )
    ok = all(r.status == PASS for r in results)
    lines.append(f"drill {'PASSED: every component recovered' if ok else 'FAILED'}")
    return "\n".join(lines)


def render_failover_json(results: list[FailoverResult]) -> str:
    return json.dumps(
        {
            "status": PASS if all(r.status == PASS for r in results) else FAIL,
            "components": [dataclasses.asdict(r) for r in results],
        },
        indent=2,
    )


def failover_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="peak-governor drill failover",
        description="Stop and restart, one at a time, the components given, with "
        "the operator's commands, on a NON-production stack; measure detection "
        "and recovery against targets. Exit 0 every component recovered in time, "
        "1 otherwise, 2 bad options.",
    )
    parser.add_argument("kind", choices=("failover",))
    parser.add_argument(
        "--component",
        action="append",
        default=None,
        choices=COMPONENTS,
        help="in order; repeat (env PEAK_DRILL_COMPONENTS, comma-separated)",
    )
    parser.add_argument(
        "--stop", action="append", metavar="NAME=CMD", help="env PEAK_DRILL_STOP_<NAME>"
    )
    parser.add_argument(
        "--start",
        action="append",
        metavar="NAME=CMD",
        help="env PEAK_DRILL_START_<NAME>",
    )
    for flag, env, _name, _kind in FAILOVER_OPTIONS:
        parser.add_argument(flag, default=None, help=f"env PEAK_DRILL_{env}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    try:
        components = args.component or [
            c.strip()
            for c in environ.get("PEAK_DRILL_COMPONENTS", "").split(",")
            if c.strip()
        ]
        values = read_options(FAILOVER_OPTIONS, args, environ, "PEAK_DRILL_")
        opts = FailoverOptions(
            components=tuple(components),
            stop=_pairs(args.stop, environ, "STOP"),
            start=_pairs(args.start, environ, "START"),
            environ=environ,
            **values,
        ).validate()
    except DrillError as exc:
        print(f"peak-governor drill: {exc}", file=sys.stderr)
        return 2
    results = run_failover_drill(opts)
    print(render_failover_json(results) if args.json else render_failover_text(results))
    return 0 if all(r.status == PASS for r in results) else 1
