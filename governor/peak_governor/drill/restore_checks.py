"""What the restore drill checks on the copy, one :class:`Step` each:
Odoo's registry loads it (``odoo-bin shell``), the Peak addons are
consistent, every sampled attachment's object (S3 or filestore) is present
with the right SHA-1, and the data age (RPO).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from .common import FAIL, PASS
from .restore_copy import RestoredCopy
from .restore_options import DrillOptions

PEAK_ADDONS = (
    "peak_base",
    "peak_queue",
    "peak_attachment_s3",
    "peak_session_redis",
    "peak_metrics",
    "queue_job",
)
ODOO_READ_SCRIPT = """
import hashlib, json
found = {}
for att in env["ir.attachment"].sudo().browse(%s):
    try:
        raw = att.raw
    except Exception as exc:
        found[att.id] = "Odoo: " + type(exc).__name__ + ": " + str(exc)[:160]
        continue
    if not raw:
        found[att.id] = "object missing"
    elif hashlib.sha1(raw).hexdigest() != att.checksum:
        found[att.id] = "checksum mismatch"
    else:
        found[att.id] = None
print("PEAK_DRILL_RESULT " + json.dumps(found))
"""
REGISTRY_SCRIPT = """
import json
modules = env["ir.module.module"].sudo().search_read(
    [("state", "=", "installed")], ["name"])
print("PEAK_DRILL_RESULT " + json.dumps({
    "installed": len(modules),
    "users": env["res.users"].sudo().search_count([]),
}))
"""


@dataclass
class Step:
    name: str
    status: str
    message: str
    seconds: float = 0.0


def _odoo_bin(opts: DrillOptions) -> list[str]:
    if opts.odoo_bin:
        path = opts.odoo_bin
    else:
        source = opts.environ.get("ODOO_SRC", "/opt/odoo")
        path = str(Path(source) / "odoo-bin")
        if not Path(path).exists():
            path = shutil.which("odoo") or ""
    if not path or not Path(path).exists():
        raise RuntimeError("odoo-bin not found: give --odoo-bin or ODOO_SRC")
    return [sys.executable, path]


def _odoo_shell(copy: RestoredCopy, opts: DrillOptions, script: str):
    """Run ``script`` in ``odoo-bin shell`` on the copy: (its
    ``PEAK_DRILL_RESULT`` JSON or None, why not)."""
    params = psycopg.conninfo.conninfo_to_dict(copy.dsn)
    argv = [*_odoo_bin(opts), "shell", "--no-http", "-d", copy.database]
    if opts.odoo_config:
        argv += ["-c", opts.odoo_config]
    for flag, key in (
        ("--db_host", "host"),
        ("--db_port", "port"),
        ("--db_user", "user"),
    ):
        if params.get(key):
            argv += [flag, str(params[key])]
    argv += ["--log-level=warn", "--max-cron-threads=0"]
    env = dict(opts.environ or os.environ)
    # The drill's own S3 keys, for Odoo's boto3 chain as well.
    for mine, boto in (
        ("PEAK_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
        ("PEAK_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
    ):
        if env.get(mine) and not env.get(boto):
            env[boto] = env[mine]
    # Read what the bucket holds, not this host's copies of it.
    env["PEAK_S3_CACHE_MAX_BYTES"] = "0"
    try:
        done = subprocess.run(
            argv,
            input=script,
            capture_output=True,
            text=True,
            timeout=min(opts.timeout, 600),
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "odoo-bin shell timed out"
    for line in done.stdout.splitlines():
        if line.startswith("PEAK_DRILL_RESULT "):
            return json.loads(line.split(" ", 1)[1]), ""
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return None, f"odoo-bin shell exited {done.returncode}: {' | '.join(tail)[-400:]}"


def check_registry(copy: RestoredCopy, opts: DrillOptions) -> Step:
    started = time.monotonic()
    result, why = _odoo_shell(copy, opts, REGISTRY_SCRIPT)
    seconds = time.monotonic() - started
    if result is None:
        return Step("registry loads", FAIL, why, seconds)
    return Step(
        "registry loads",
        PASS,
        f"{result['installed']} modules, {result['users']} users",
        seconds,
    )


def _read_through_odoo(copy: RestoredCopy, opts: DrillOptions, ids) -> dict:
    """attachment id -> problem (None: read, right SHA-1), as Odoo on the copy
    reads it: under whatever name the copy has, from wherever it keeps it."""
    result, why = _odoo_shell(copy, opts, ODOO_READ_SCRIPT % json.dumps(list(ids)))
    if result is None:
        return dict.fromkeys(ids, why)
    return {int(key): problem for key, problem in result.items()}


def check_addons(cur) -> Step:
    cur.execute(
        "SELECT name, state FROM ir_module_module WHERE name = ANY(%s) "
        "AND state <> 'uninstalled' ORDER BY name",
        (list(PEAK_ADDONS),),
    )
    rows = cur.fetchall()
    broken = [f"{name} is '{state}'" for name, state in rows if state != "installed"]
    installed = [name for name, state in rows if state == "installed"]
    if "peak_queue" in installed:
        cur.execute("SELECT to_regprocedure('peak_queue_contract_version()')")
        if cur.fetchone()[0] is None:
            broken.append("peak_queue's DB contract functions are missing")
    if broken:
        return Step(
            "Peak addons consistent",
            FAIL,
            "; ".join(broken) + " (a half-done install or upgrade was backed up)",
        )
    return Step(
        "Peak addons consistent", PASS, ", ".join(installed) or "none installed"
    )


def _filestore_reader(opts: DrillOptions):
    """Read a filestore attachment from the ``--filestore`` directory; None:
    the file is missing."""

    def read(store_fname: str) -> bytes | None:
        if not opts.filestore:
            raise RuntimeError("filestore object, no --filestore given")
        try:
            return (Path(opts.filestore) / store_fname).read_bytes()
        except FileNotFoundError:
            return None

    return read


def check_attachments(cur, opts: DrillOptions, copy: RestoredCopy) -> Step:
    """S3 attachments read through Odoo on the copy (so under the copy's own
    name, as after a real restore); filestore ones from ``--filestore``."""
    started = time.monotonic()
    read = _filestore_reader(opts)
    limit = "" if opts.attachment_sample == 0 else "ORDER BY random() LIMIT %s"
    cur.execute(
        "SELECT id, store_fname, checksum FROM ir_attachment "
        f"WHERE store_fname IS NOT NULL AND type = 'binary' {limit}",
        () if not limit else (opts.attachment_sample,),
    )
    rows = cur.fetchall()
    in_odoo = [row[0] for row in rows if row[1].startswith("s3://")]
    odoo_says = _read_through_odoo(copy, opts, in_odoo) if in_odoo else {}
    problems = []
    for attachment_id, store_fname, checksum in rows:
        if attachment_id in odoo_says:
            if odoo_says[attachment_id]:
                problems.append(
                    f"{attachment_id} ({store_fname}): {odoo_says[attachment_id]}"
                )
            continue
        try:
            content = read(store_fname)
        except Exception as exc:  # an unreachable store fails the step
            problems.append(
                f"{attachment_id} ({store_fname}): {type(exc).__name__}: "
                f"{str(exc)[:120]}"
            )
            continue
        if content is None:
            problems.append(f"{attachment_id} ({store_fname}): object missing")
        elif (
            checksum and hashlib.sha1(content).hexdigest() != checksum
        ):  # Odoo's checksum is SHA-1
            problems.append(f"{attachment_id} ({store_fname}): checksum mismatch")
    seconds = time.monotonic() - started
    scope = "all" if opts.attachment_sample == 0 else f"sample of {len(rows)}"
    in_s3 = sum(1 for row in rows if row[1].startswith("s3://"))
    kind = f"S3 ({in_s3}) and filestore ({len(rows) - in_s3})" if in_s3 else "filestore"
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        return Step(
            "attachment objects",
            FAIL,
            f"{len(problems)} of {len(rows)} bad in {kind} ({scope}): {shown}",
            seconds,
        )
    return Step(
        "attachment objects",
        PASS,
        f"{len(rows)} checked in {kind} ({scope}), all present with the right SHA-1"
        + (" (S3 read through Odoo on the copy)" if in_s3 else ""),
        seconds,
    )


def check_rpo(cur, opts: DrillOptions, reference: datetime) -> Step:
    try:
        cur.execute(opts.rpo_sql)
        newest = cur.fetchone()[0]
    except psycopg.Error as exc:
        return Step(
            "data age (RPO)", FAIL, f"--rpo-sql failed: {str(exc).splitlines()[0]}"
        )
    if newest is None:
        return Step("data age (RPO)", FAIL, "the copy has no dated rows")
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)  # Odoo stores UTC
    age = (reference - newest).total_seconds()
    detail = (
        f"newest write {newest:%Y-%m-%d %H:%M:%S} UTC, {max(age, 0):.0f}s before "
        f"{'the target time' if opts.target_time else 'the drill'} "
        f"(target {opts.rpo_target_seconds:g}s)"
    )
    if age > opts.rpo_target_seconds:
        return Step("data age (RPO)", FAIL, detail)
    return Step("data age (RPO)", PASS, detail)
