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
4. every sampled attachment's object exists with the right SHA-1 (S3 when
   peak_attachment_s3 is installed, else the filestore directory given);
5. recovery time and data age against ``--rto-target-seconds`` and
   ``--rpo-target-seconds``.

Exit 0 when every step passes, 1 otherwise, 2 for bad options.
"""

import argparse
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from peak_settings import SettingError, read_options

from . import companions
from .scratch import PrivatePostgres, as_postgres, make_root

PASS, FAIL = "pass", "fail"
PEAK_ADDONS = (
    "peak_base",
    "peak_queue",
    "peak_attachment_s3",
    "peak_session_redis",
    "peak_metrics",
    "queue_job",
)
# Newest write a healthy Odoo database always has: cron bookkeeping, jobs,
# parameters (peak_base republishes hourly), logins, enqueued jobs.
DEFAULT_RPO_SQL = """
SELECT max(t) FROM (
    SELECT max(write_date) AS t FROM ir_cron
    UNION ALL SELECT max(write_date) FROM ir_config_parameter
    UNION ALL SELECT max(write_date) FROM res_users_log
    UNION ALL SELECT max(date_created) FROM queue_job
) newest
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


#: Bad options: exit 2 (the one settings error of peak_settings).
DrillError = SettingError


@dataclass
class Step:
    name: str
    status: str
    message: str
    seconds: float = 0.0


@dataclass
class RestoredCopy:
    dsn: str  # libpq conninfo of the restored Odoo database
    database: str
    cleanup: list = dataclasses.field(default_factory=list)  # callables

    def drop(self) -> None:
        for action in reversed(self.cleanup):
            action()


@dataclass
class DrillOptions:
    database: str
    target_time: str = ""
    pgbackrest_stanza: str = ""
    pgbackrest_config: str = ""
    dump: str = ""
    scratch_dsn: str = ""
    restore_command: str = ""
    restored_dsn: str = ""
    cleanup_command: str = ""
    db_user: str = "peak"
    odoo_bin: str = ""
    odoo_config: str = ""
    filestore: str = ""
    attachment_sample: int = 200
    rto_target_seconds: float = 3600.0
    rpo_target_seconds: float = 900.0
    rpo_sql: str = DEFAULT_RPO_SQL
    keep: bool = False
    timeout: float = 1800.0
    environ: dict = dataclasses.field(default_factory=dict, repr=False)

    def validate(self) -> "DrillOptions":
        sources = [
            bool(self.pgbackrest_stanza),
            bool(self.dump),
            bool(self.restore_command),
        ]
        if sum(sources) != 1:
            raise DrillError(
                "give exactly one source: --pgbackrest-stanza, --dump or "
                "--restore-command"
            )
        for label, value in (
            ("--database", self.database),
            ("--db-user", self.db_user),
        ):
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}", value or ""):
                raise DrillError(
                    f"{label} {value!r}: letters, digits, _ . - (at most 63)"
                )
        if self.dump and not self.scratch_dsn:
            raise DrillError("--dump needs --scratch-dsn (where to create the copy)")
        if self.dump and not Path(self.dump).is_file():
            raise DrillError(f"--dump {self.dump}: no such file")
        if self.restore_command and not self.restored_dsn:
            raise DrillError("--restore-command needs --restored-dsn")
        if self.target_time and not self.pgbackrest_stanza and not self.restore_command:
            raise DrillError("--target-time needs --pgbackrest-stanza or a command")
        if self.target_time:
            _parse_time(self.target_time)
        if self.attachment_sample < 0:
            raise DrillError("--attachment-sample must be >= 0 (0: every attachment)")
        if self.rto_target_seconds <= 0 or self.rpo_target_seconds <= 0:
            raise DrillError("RTO and RPO targets must be > 0 seconds")
        if self.filestore and not Path(self.filestore).is_dir():
            raise DrillError(f"--filestore {self.filestore}: no such directory")
        return self


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DrillError(
            f"--target-time {text!r} is not ISO 8601 (e.g. 2026-11-27 06:00:00+00)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- restoring --------------------------------------------------------------------


def restore_pgbackrest(opts: DrillOptions) -> RestoredCopy:
    root = make_root("peak-drill-")
    data = root / "data"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    argv = ["pgbackrest", f"--stanza={opts.pgbackrest_stanza}"]
    if opts.pgbackrest_config:
        argv.append(f"--config={opts.pgbackrest_config}")
    argv.append(f"--pg1-path={data}")
    if opts.target_time:
        argv += [
            "--type=time",
            f"--target={_parse_time(opts.target_time).isoformat(sep=' ')}",
            "--target-action=promote",
        ]
    instance = PrivatePostgres(root, data=data)
    copy = RestoredCopy(
        dsn=instance.dsn(opts.db_user, opts.database), database=opts.database
    )
    copy.cleanup.append(instance.destroy)
    try:
        as_postgres([*argv, "restore"], timeout=opts.timeout)
        # Never archive into the production stanza, never listen on TCP.
        instance.configure(archive_mode="off", archive_command="")
        instance.start()
        instance.wait_promoted(timeout=opts.timeout)
    except BaseException:
        copy.drop()
        raise
    return copy


def restore_dump(opts: DrillOptions) -> RestoredCopy:
    name = f"peak_drill_{secrets.token_hex(4)}"
    with psycopg.connect(opts.scratch_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{opts.db_user}"')

    def drop():
        with psycopg.connect(opts.scratch_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    target = psycopg.conninfo.make_conninfo(
        opts.scratch_dsn, dbname=name, user=opts.db_user
    )
    copy = RestoredCopy(dsn=target, database=name, cleanup=[drop])
    done = subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",  # grants name roles the scratch server may lack
            "--no-comments",  # COMMENT ON EXTENSION needs its owner
            "--exit-on-error",
            f"--role={opts.db_user}",
            "-d",
            target,
            opts.dump,
        ],
        capture_output=True,
        text=True,
        timeout=opts.timeout,
        check=False,
    )
    if done.returncode:
        copy.drop()
        raise RuntimeError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    return copy


def restore_command(opts: DrillOptions) -> RestoredCopy:
    env = {
        **os.environ,
        "PEAK_DRILL_TARGET_TIME": opts.target_time,
        "PEAK_DRILL_DATABASE": opts.database,
    }
    done = subprocess.run(
        opts.restore_command,
        shell=True,  # the operator's own command line
        capture_output=True,
        text=True,
        timeout=opts.timeout,
        env=env,
        check=False,
    )
    copy = RestoredCopy(dsn=opts.restored_dsn, database=opts.database)
    if opts.cleanup_command:

        def cleanup():
            subprocess.run(
                opts.cleanup_command,
                shell=True,  # the operator's own command line
                timeout=opts.timeout,
                env=env,
                check=False,
            )

        copy.cleanup.append(cleanup)
    if done.returncode:
        copy.drop()
        raise RuntimeError(
            f"restore command exited {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )
    return copy


# --- checking ----------------------------------------------------------------------


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
                    steps.append(check_attachments(cur, opts))
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


# (flag, env suffix, field, type)
RESTORE_OPTIONS = [
    ("--database", "DATABASE", "database", str),
    ("--target-time", "TARGET_TIME", "target_time", str),
    ("--pgbackrest-stanza", "PGBACKREST_STANZA", "pgbackrest_stanza", str),
    ("--pgbackrest-config", "PGBACKREST_CONFIG", "pgbackrest_config", str),
    ("--dump", "DUMP", "dump", str),
    ("--scratch-dsn", "SCRATCH_DSN", "scratch_dsn", str),
    ("--restore-command", "RESTORE_COMMAND", "restore_command", str),
    ("--restored-dsn", "RESTORED_DSN", "restored_dsn", str),
    ("--cleanup-command", "CLEANUP_COMMAND", "cleanup_command", str),
    ("--db-user", "DB_USER", "db_user", str),
    ("--odoo-bin", "ODOO_BIN", "odoo_bin", str),
    ("--odoo-config", "ODOO_CONFIG", "odoo_config", str),
    ("--filestore", "FILESTORE", "filestore", str),
    ("--attachment-sample", "ATTACHMENT_SAMPLE", "attachment_sample", int),
    ("--rto-target-seconds", "RTO_TARGET_SECONDS", "rto_target_seconds", float),
    ("--rpo-target-seconds", "RPO_TARGET_SECONDS", "rpo_target_seconds", float),
    ("--rpo-sql", "RPO_SQL", "rpo_sql", str),
    ("--timeout", "TIMEOUT", "timeout", float),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peak-governor drill",
        description="Recovery drills. `restore`: restore a backup into a scratch "
        "copy, check Odoo loads it and the attachments are intact, report RTO and "
        "RPO against targets, drop the copy. Exit 0 passed, 1 failed, 2 bad options.",
    )
    parser.add_argument("kind", choices=("restore", "failover"))
    for flag, env, _field, _kind in RESTORE_OPTIONS:
        parser.add_argument(flag, default=None, help=f"env PEAK_DRILL_{env}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy")
    parser.add_argument("--json", action="store_true")
    return parser


def options_from(args, environ=os.environ) -> DrillOptions:
    """flags > env PEAK_DRILL_* > defaults."""
    values = read_options(RESTORE_OPTIONS, args, environ, "PEAK_DRILL_")
    if not values.get("database"):
        raise DrillError("--database (the Odoo database to restore) is required")
    return DrillOptions(keep=args.keep, environ=dict(environ), **values).validate()


def main(argv: list[str]) -> int:
    if argv and argv[0] == "failover":
        return failover_main(argv)
    args = build_parser().parse_args(argv)
    try:
        opts = options_from(args)
    except DrillError as exc:
        print(f"peak-governor drill: {exc}", file=sys.stderr)
        return 2
    steps = run_restore_drill(opts)
    print(render_json(steps) if args.json else render_text(steps))
    return 0 if all(s.status == PASS for s in steps) else 1


# --- failover drill ------------------------------------------------------------------

COMPONENTS = ("governor", "redis", "s3", "postgres")


@dataclass
class FailoverResult:
    component: str
    status: str
    detected_seconds: float | None
    recovered_seconds: float | None
    impact: dict  # watcher -> seconds until it saw the outage, or None
    message: str


@dataclass
class FailoverOptions:
    components: tuple
    stop: dict
    start: dict
    odoo_url: str = ""
    governor_url: str = ""
    dsn: str = ""
    detect_target_seconds: float = 15.0
    recover_target_seconds: float = 60.0
    outage_seconds: float = 3.0
    probe_timeout: float = 1.0
    timeout: float = 120.0
    environ: dict = dataclasses.field(default_factory=dict, repr=False)

    def redis(self):
        """Odoo's session store, as peak_session_redis reads it."""
        return companions.redis_config(self.environ, {})

    def s3(self):
        """Odoo's bucket, as peak_attachment_s3 reads it; None: none set."""
        if not self.environ.get("PEAK_S3_BUCKET"):
            return None
        return companions.s3_config(self.environ, {})

    def validate(self) -> "FailoverOptions":
        # Bad S3/Redis settings are refused up front, probed or not.
        self.redis()
        self.s3()
        if not self.components:
            raise DrillError("give at least one --component")
        for name in self.components:
            if name not in COMPONENTS:
                raise DrillError(
                    f"unknown component {name!r} ({', '.join(COMPONENTS)})"
                )
            if not self.stop.get(name) or not self.start.get(name):
                raise DrillError(
                    f"{name}: give --stop {name}=CMD and --start {name}=CMD"
                )
            probe_missing = {
                "governor": lambda: not self.governor_url,
                "redis": lambda: not self.redis().enabled,
                "s3": lambda: not self.s3(),
                "postgres": lambda: not self.dsn,
            }[name]()
            if probe_missing:
                raise DrillError(
                    f"{name}: nothing to probe it with (--governor-url, "
                    "PEAK_REDIS_URL or _SENTINELS, PEAK_S3_BUCKET or --dsn)"
                )
        for name in ("detect_target_seconds", "recover_target_seconds", "timeout"):
            if getattr(self, name) <= 0:
                raise DrillError(f"{name.replace('_', '-')} must be > 0")
        return self


def _http_ok(url: str, timeout: float) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _probes(opts: FailoverOptions) -> dict:
    """name -> callable returning True when healthy, bounded by probe_timeout."""
    timeout = opts.probe_timeout
    probes = {}
    if opts.odoo_url:
        url = opts.odoo_url.rstrip("/") + "/web/health"
        probes["odoo"] = lambda: _http_ok(url, timeout)
    if opts.governor_url:
        ready = opts.governor_url.rstrip("/") + "/readyz"
        probes["governor"] = lambda: _http_ok(ready, timeout)
    store = opts.redis()
    if store.enabled:

        def redis_ok():
            try:
                return companions.redis_ping(store, timeout)
            except Exception:  # any failure means down
                return False

        probes["redis"] = redis_ok
    bucket = opts.s3()
    if bucket is not None:

        def s3_ok():
            try:
                client = companions.s3_client(bucket, opts.environ, timeout)
                client.head_bucket(Bucket=bucket.bucket)
                return True
            except Exception:  # any failure means down
                return False

        probes["s3"] = s3_ok
    if opts.dsn:

        def postgres_ok():
            try:
                with psycopg.connect(
                    opts.dsn, connect_timeout=max(1, int(timeout)), autocommit=True
                ) as conn:
                    conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                return False

        probes["postgres"] = postgres_ok
    return probes


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


def _pairs(values, environ, prefix) -> dict:
    """NAME=CMD flags, else env PEAK_DRILL_<PREFIX>_<NAME>."""
    out = {
        name: environ[f"PEAK_DRILL_{prefix}_{name.upper()}"]
        for name in COMPONENTS
        if environ.get(f"PEAK_DRILL_{prefix}_{name.upper()}")
    }
    for value in values or ():
        name, sep, command = value.partition("=")
        if not sep or not command.strip():
            raise DrillError(f"--{prefix.lower()} {value!r}: expected NAME=COMMAND")
        out[name.strip()] = command
    return out


# (flag, env suffix, field, type)
FAILOVER_OPTIONS = [
    ("--odoo-url", "ODOO_URL", "odoo_url", str),
    ("--governor-url", "GOVERNOR_URL", "governor_url", str),
    ("--dsn", "DSN", "dsn", str),
    (
        "--detect-target-seconds",
        "DETECT_TARGET_SECONDS",
        "detect_target_seconds",
        float,
    ),
    (
        "--recover-target-seconds",
        "RECOVER_TARGET_SECONDS",
        "recover_target_seconds",
        float,
    ),
    ("--outage-seconds", "OUTAGE_SECONDS", "outage_seconds", float),
    ("--probe-timeout", "PROBE_TIMEOUT", "probe_timeout", float),
    ("--timeout", "TIMEOUT", "timeout", float),
]


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
