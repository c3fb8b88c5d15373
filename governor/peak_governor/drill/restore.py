"""``peak-governor drill restore``: prove a backup restores into a working Odoo.

A backup that was never restored is a hope, not a recovery strategy. The drill
restores one into a scratch copy, checks it, reports recovery time (RTO) and
data age (RPO) against the operator's targets, and drops the copy:

1. restore, from one of
   - pgBackRest (``--pgbackrest-stanza``, optionally ``--target-time``): into a
     new data directory, started as a scratch PostgreSQL instance on a Unix
     socket only, with WAL archiving off (a drill copy must never push WAL
     into the production stanza);
   - a ``pg_dump`` custom-format archive (``--dump``): into a scratch database
     ``peak_drill_<random>`` on the server of ``--scratch-dsn``;
   - an operator command (``--restore-command``, e.g. CloudNativePG's
     ``kubectl cnpg`` / barman-cloud restore): it must leave the copy reachable at
     ``--restored-dsn``; ``--cleanup-command`` drops it afterwards;
2. Odoo's registry loads the copy (``odoo-bin shell`` in a subprocess);
3. the Peak addons are consistent (no half-done install or upgrade, the
   DB contract of peak_queue present);
4. every sampled attachment reads with the right SHA-1: those in S3 through
   Odoo on the copy (``odoo-bin shell``, under the copy's own name, as a
   restored or duplicated database reads them), the others from the
   filestore directory given;
5. recovery time and data age against ``--rto-target-seconds`` and
   ``--rpo-target-seconds``.

Exit 0 when every step passes, 1 otherwise, 2 for bad options.
"""

import dataclasses
import json
import subprocess
import time
from datetime import UTC, datetime

import psycopg

from .common import FAIL, PASS
from .restore_checks import (
    Step,
    check_addons,
    check_attachments,
    check_registry,
    check_rpo,
)
from .restore_copy import restore_command, restore_dump, restore_pgbackrest
from .restore_options import DrillOptions, _parse_time


def run_restore_drill(opts: DrillOptions) -> list[Step]:
    steps: list[Step] = []
    reference = _parse_time(opts.target_time) if opts.target_time else datetime.now(UTC)
    started = time.monotonic()
    try:
        if opts.pgbackrest_stanza:
            source = f"pgBackRest stanza {opts.pgbackrest_stanza}"
            copy = restore_pgbackrest(opts)
        elif opts.dump:
            source = f"pg_dump archive {opts.dump}"
            copy = restore_dump(opts)
        else:
            source = "operator command"
            copy = restore_command(opts)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, psycopg.Error) as exc:
        steps.append(Step("restore", FAIL, f"{exc}", time.monotonic() - started))
        return steps
    restored = time.monotonic() - started
    steps.append(
        Step(
            "restore",
            PASS,
            f"{source}" + (f" to {opts.target_time}" if opts.target_time else ""),
            restored,
        )
    )
    try:
        registry = check_registry(copy, opts)
        steps.append(registry)
        try:
            with psycopg.connect(copy.dsn, autocommit=True, connect_timeout=10) as conn:
                with conn.cursor() as cur:
                    steps.append(check_addons(cur))
                    steps.append(check_attachments(cur, opts, copy))
                    steps.append(check_rpo(cur, opts, reference))
        except psycopg.Error as exc:
            steps.append(Step("restored database", FAIL, str(exc).strip()[:300]))
        # RTO: restore until Odoo could serve from the copy.
        recovery = restored + registry.seconds
        detail = (
            f"{recovery:.0f}s to a loadable Odoo (restore {restored:.0f}s + "
            f"registry {registry.seconds:.0f}s; target {opts.rto_target_seconds:g}s)"
        )
        ok = registry.status == PASS and recovery <= opts.rto_target_seconds
        steps.append(
            Step("recovery time (RTO)", PASS if ok else FAIL, detail, recovery)
        )
    finally:
        if opts.keep:
            steps.append(Step("scratch copy", PASS, f"kept: {copy.dsn}"))
        else:
            copy.drop()
    return steps


def render_text(steps: list[Step]) -> str:
    width = max(len(s.name) for s in steps)
    lines = [
        f"{s.status.upper():<4}  {s.name:<{width}}  {s.seconds:7.1f}s  {s.message}"
        for s in steps
    ]
    ok = all(s.status == PASS for s in steps)
    lines.append(f"drill {'PASSED' if ok else 'FAILED'}")
    return "\n".join(lines)


def render_json(steps: list[Step]) -> str:
    return json.dumps(
        {
            "status": PASS if all(s.status == PASS for s in steps) else FAIL,
            "steps": [dataclasses.asdict(s) for s in steps],
        },
        indent=2,
    )
