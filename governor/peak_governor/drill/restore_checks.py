"""What the restore drill checks on the copy, one :class:`Step` each:
Odoo's registry loads it (``odoo-bin shell``), the Peak addons are
consistent, every sampled attachment's object (S3 or filestore) is present
with the right SHA-1, and the data age (RPO).
"""

import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from .. import companions
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


def check_registry(copy: RestoredCopy, opts: DrillOptions) -> Step:
    started = time.monotonic()
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
    try:
        done = subprocess.run(
            argv,
            input=REGISTRY_SCRIPT,
            capture_output=True,
            text=True,
            timeout=min(opts.timeout, 600),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Step("registry loads", FAIL, "odoo-bin shell timed out")
    seconds = time.monotonic() - started
    for line in done.stdout.splitlines():
        if line.startswith("PEAK_DRILL_RESULT "):
            result = json.loads(line.split(" ", 1)[1])
            return Step(
                "registry loads",
                PASS,
                f"{result['installed']} modules, {result['users']} users",
                seconds,
            )
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return Step(
        "registry loads",
        FAIL,
        f"odoo-bin shell exited {done.returncode}: {' | '.join(tail)[-400:]}",
        seconds,
    )


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


def _sections(opts) -> dict:
    """The ``[peak_*]`` sections of --odoo-config, as Odoo reads them."""
    return companions.odoo_sections(opts.odoo_config) if opts.odoo_config else {}


def _object_reader(opts: DrillOptions):
    """Read an attachment's object: ``s3://ab/abc…`` names (peak_attachment_s3)
    from the bucket under ``PEAK_S3_KEY_PREFIX`` (``{db}`` = the database),
    other names from the ``--filestore`` directory. None: the object is
    missing."""
    clients = {}

    def read(store_fname: str) -> bytes | None:
        if store_fname.startswith("s3://"):
            from botocore.exceptions import ClientError

            if "s3" not in clients:
                # Odoo's own S3 settings (env PEAK_S3_* > [peak_attachment_s3]).
                cfg = companions.s3_config(opts.environ, _sections(opts))
                clients["s3"] = (
                    cfg,
                    companions.s3_client(cfg, opts.environ, 30, attempts=2),
                )
            cfg, client = clients["s3"]
            try:
                response = client.get_object(
                    Bucket=cfg.bucket,
                    Key=cfg.prefix_for(opts.database) + store_fname[len("s3://") :],
                )
                return response["Body"].read()
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
        if not opts.filestore:
            raise RuntimeError("filestore object, no --filestore given")
        try:
            return (Path(opts.filestore) / store_fname).read_bytes()
        except FileNotFoundError:
            return None

    return read


def check_attachments(cur, opts: DrillOptions) -> Step:
    started = time.monotonic()
    read = _object_reader(opts)
    limit = "" if opts.attachment_sample == 0 else "ORDER BY random() LIMIT %s"
    cur.execute(
        "SELECT id, store_fname, checksum FROM ir_attachment "
        f"WHERE store_fname IS NOT NULL AND type = 'binary' {limit}",
        () if not limit else (opts.attachment_sample,),
    )
    rows = cur.fetchall()
    problems = []
    for attachment_id, store_fname, checksum in rows:
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
        f"{len(rows)} checked in {kind} ({scope}), all present with the right SHA-1",
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
