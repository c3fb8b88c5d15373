"""``peak-governor doctor``: is this installation ready for the peak?

Every check returns findings: ``pass``, ``warn`` or ``fail`` with a message
and the fix, or ``skip`` when it does not apply (an addon not installed, a
setting the operator did not give). Exit code: 0 all pass, 1 a warning, 2 a
failure (or bad configuration).

The checks take a DB-API cursor (psycopg 3 from the CLI, Odoo's psycopg2
cursor from the Settings *Readiness* report) and only ``%s`` parameters, so
both sides run the same code and print the same words. Nothing here writes to
the database.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime

from peak_settings import (
    SettingError,
    convert,
    get,
    is_empty,
    read_odoo_conf,
    read_options,
)
from peak_settings import metrics as metrics_settings

from . import companions

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
EXIT_CODES = {PASS: 0, SKIP: 0, WARN: 1, FAIL: 2}
# Tables whose bloat hurts fulfillment first.
HOT_TABLES = ("queue_job", "stock_move", "stock_quant", "ir_attachment")
# (table, leading column, why): indexes the peak queries need.
REQUIRED_INDEXES = (
    ("queue_job", "state", "the jobrunner and the governor count jobs by state"),
    ("queue_job", "channel", "peak_queue counts pending jobs per channel"),
    ("peak_queue_lease", "expires_at", "the jobrunner reads active leases"),
    ("stock_move", "state", "peak_metrics counts moves waiting to be picked"),
    ("stock_picking", "state", "peak_metrics counts pickings by state"),
    ("sale_order", "state", "peak_metrics counts confirmed orders"),
)


#: A bad setting: the CLI exits 2 with this message (the one settings error).
DoctorConfigError = SettingError


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    message: str
    fix: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DoctorConfig:
    """What the database cannot tell: the Odoo process layout and targets.

    flags > env ``PEAK_DOCTOR_*`` > the Odoo configuration file (for the
    process layout) > defaults.
    """

    odoo_role: str = ""  # default: the role the doctor connects as
    workers: int = 2
    db_maxconn: int = 64
    db_maxconn_gevent: int = 0  # 0: db_maxconn, as Odoo does
    cron_threads: int = 2
    jobrunners: int = 1
    governors: int = 1
    pooler_connections: int = 0
    queue_job_channels: str | None = None  # server-wide string; None: unknown
    server_wide_modules: str | None = None
    bloat_warn_ratio: float = 0.2
    bloat_fail_ratio: float = 0.5
    bloat_min_dead_rows: int = 1000
    max_backup_age_hours: float = 26.0
    pgbackrest_stanza: str = ""
    pgbackrest_config: str = ""
    odoo_url: str = ""
    probe_timeout: float = 3.0
    environ: dict = field(default_factory=dict, compare=False, repr=False)
    #: ``[peak_*]`` sections of the Odoo config file (the addons read them)
    sections: dict = field(default_factory=dict, compare=False, repr=False)

    def validate(self) -> "DoctorConfig":
        for name in ("workers", "db_maxconn", "cron_threads", "jobrunners"):
            if getattr(self, name) < 0:
                raise DoctorConfigError(f"{name} must be >= 0")
        if self.db_maxconn < 1:
            raise DoctorConfigError("db_maxconn must be >= 1")
        if not 0 < self.bloat_warn_ratio <= self.bloat_fail_ratio <= 1:
            raise DoctorConfigError(
                "bloat ratios: need 0 < bloat_warn_ratio <= bloat_fail_ratio <= 1"
            )
        if self.max_backup_age_hours <= 0:
            raise DoctorConfigError("max_backup_age_hours must be > 0")
        if self.probe_timeout <= 0:
            raise DoctorConfigError("probe_timeout must be > 0")
        return self


def read_odoo_config(path: str) -> dict:
    """The process layout, queue_job settings and ``[peak_*]`` sections of an
    Odoo config file, as DoctorConfig keyword arguments."""
    conf = read_odoo_conf(path)
    options = conf.get("options", {})
    values: dict = {}
    for key, name in (
        ("workers", "workers"),
        ("db_maxconn", "db_maxconn"),
        ("db_maxconn_gevent", "db_maxconn_gevent"),
        ("max_cron_threads", "cron_threads"),
    ):
        raw = options.get(key, "")
        # Odoo writes an unset option as False or None.
        if not is_empty(raw) and raw.strip().lower() not in ("false", "none"):
            values[name] = convert(raw, int, f"{path} [options] {key}")
    values["server_wide_modules"] = options.get("server_wide_modules", "base,web")
    values["queue_job_channels"] = (
        conf.get("queue_job", {}).get("channels", "") or ""
    ).strip()
    values["sections"] = {n: v for n, v in conf.items() if n.startswith("peak_")}
    return values


# --- helpers -----------------------------------------------------------------


def _one(cur, query, params=()):
    cur.execute(query, params)
    return cur.fetchone()


def _all(cur, query, params=()):
    cur.execute(query, params)
    return cur.fetchall()


def _table_exists(cur, table: str) -> bool:
    return _one(cur, "SELECT to_regclass(%s) IS NOT NULL", (table,))[0]


def installed_modules(cur) -> set[str]:
    if not _table_exists(cur, "ir_module_module"):
        return set()
    return {
        row[0]
        for row in _all(
            cur,
            "SELECT name FROM ir_module_module "
            "WHERE state IN ('installed', 'to upgrade')",
        )
    }


def role_setting(cur, role: str, name: str) -> str:
    """The value sessions of ``role`` start with in this database: role+db,
    then role, then database overrides (pg_db_role_setting), else the server's."""
    rows = _all(
        cur,
        """
        SELECT s.setconfig, (s.setrole <> 0)::int + (s.setdatabase <> 0)::int
          FROM pg_db_role_setting s
          LEFT JOIN pg_roles r ON r.oid = s.setrole
          LEFT JOIN pg_database d ON d.oid = s.setdatabase
         WHERE (s.setrole = 0 OR r.rolname = %s)
           AND (s.setdatabase = 0 OR d.datname = current_database())
         ORDER BY 2 DESC, (s.setrole <> 0) DESC
        """,
        (role,),
    )
    for setconfig, _rank in rows:
        for item in setconfig or ():
            key, _, value = item.partition("=")
            if key == name:
                return value
    # The server's value, not this session's (which carries our own role's).
    return _one(
        cur,
        "SELECT COALESCE(reset_val, setting) || COALESCE(unit, '') FROM pg_settings "
        "WHERE name = %s",
        (name,),
    )[0]


def _milliseconds(cur, value: str, name: str) -> float:
    """A duration setting as milliseconds, parsed by PostgreSQL itself."""
    raw = value.strip().strip("'")
    if raw in ("0", "0ms", "0s", "0min", ""):
        return 0.0
    # A bare number is milliseconds for these settings.
    if raw.isdigit():
        return float(raw)
    return float(_one(cur, "SELECT EXTRACT(EPOCH FROM %s::interval) * 1000", (raw,))[0])


def _seconds_text(ms: float) -> str:
    return "disabled" if ms == 0 else f"{ms / 1000:g}s"


# --- PostgreSQL server and role settings -------------------------------------


def check_connection_budget(cur, cfg: DoctorConfig) -> list[Finding]:
    max_conn, reserved = _one(
        cur,
        "SELECT current_setting('max_connections')::int, "
        "current_setting('superuser_reserved_connections')::int",
    )
    available = max_conn - reserved
    gevent = cfg.db_maxconn_gevent or cfg.db_maxconn
    odoo = (cfg.workers + cfg.cron_threads) * cfg.db_maxconn + gevent
    need = odoo + cfg.jobrunners + cfg.governors + cfg.pooler_connections
    detail = (
        f"({cfg.workers} workers + {cfg.cron_threads} cron) x db_maxconn "
        f"{cfg.db_maxconn} + gevent {gevent} + jobrunner {cfg.jobrunners} + "
        f"governor {cfg.governors} + pooler {cfg.pooler_connections} = {need}; "
        f"PostgreSQL allows {available} ({max_conn} max_connections - "
        f"{reserved} reserved)"
    )
    processes = cfg.workers + cfg.cron_threads + 1
    fix = (
        f"lower db_maxconn (e.g. {max(1, (available - 10) // processes)})"
        " in the Odoo config, or put PgBouncer in front, or raise max_connections "
        "(restart)"
    )
    if need > available:
        return [Finding("connection budget", FAIL, detail, fix)]
    if need > 0.9 * available:
        return [Finding("connection budget", WARN, detail + " (over 90 %)", fix)]
    return [Finding("connection budget", PASS, detail)]


def check_idle_in_transaction(cur, cfg: DoctorConfig) -> list[Finding]:
    role = cfg.odoo_role or _one(cur, "SELECT current_user")[0]
    ms = _milliseconds(
        cur,
        role_setting(cur, role, "idle_in_transaction_session_timeout"),
        "idle_in_transaction_session_timeout",
    )
    fix = (
        f"ALTER ROLE {role} SET idle_in_transaction_session_timeout = '5min' "
        "(a forgotten open transaction holds its row locks until then)"
    )
    name = "idle_in_transaction_session_timeout"
    if ms == 0:
        return [Finding(name, FAIL, f"disabled for role {role}", fix)]
    if ms > 600_000:
        return [Finding(name, WARN, f"{_seconds_text(ms)} for role {role}", fix)]
    return [Finding(name, PASS, f"{_seconds_text(ms)} for role {role}")]


def check_job_timeouts(cur, cfg: DoctorConfig) -> list[Finding]:
    role = cfg.odoo_role or _one(cur, "SELECT current_user")[0]
    lock_ms = _milliseconds(cur, role_setting(cur, role, "lock_timeout"), "lock")
    stmt_ms = _milliseconds(
        cur, role_setting(cur, role, "statement_timeout"), "statement"
    )
    detail = (
        f"role {role}: lock_timeout {_seconds_text(lock_ms)}, "
        f"statement_timeout {_seconds_text(stmt_ms)}"
    )
    fix = (
        f"ALTER ROLE {role} SET lock_timeout = '30s' (a job that waits on a "
        "picker's rows then fails and is retried by queue_job instead of "
        "queueing more waiters behind it)"
    )
    if lock_ms == 0 and stmt_ms == 0:
        return [Finding("job lock/statement timeouts", WARN, detail, fix)]
    if lock_ms > 120_000 or (lock_ms == 0 and stmt_ms > 600_000):
        return [Finding("job lock/statement timeouts", WARN, detail, fix)]
    return [Finding("job lock/statement timeouts", PASS, detail)]


def check_lock_logging(cur, cfg: DoctorConfig) -> list[Finding]:
    deadlock_ms = _milliseconds(
        cur, _one(cur, "SELECT current_setting('deadlock_timeout')")[0], "deadlock"
    )
    log_waits = _one(cur, "SELECT current_setting('log_lock_waits')")[0] == "on"
    findings = []
    if deadlock_ms > 1000:
        findings.append(
            Finding(
                "deadlock_timeout",
                WARN,
                f"{_seconds_text(deadlock_ms)}: deadlocks between pickers and jobs "
                "are broken late, and lock waits are logged late",
                "ALTER SYSTEM SET deadlock_timeout = '1s'; SELECT pg_reload_conf()",
            )
        )
    elif deadlock_ms < 100:
        findings.append(
            Finding(
                "deadlock_timeout",
                WARN,
                f"{_seconds_text(deadlock_ms)}: deadlock checks burn CPU under "
                "contention",
                "ALTER SYSTEM SET deadlock_timeout = '1s'; SELECT pg_reload_conf()",
            )
        )
    else:
        findings.append(Finding("deadlock_timeout", PASS, _seconds_text(deadlock_ms)))
    if log_waits:
        findings.append(Finding("log_lock_waits", PASS, "on"))
    else:
        findings.append(
            Finding(
                "log_lock_waits",
                WARN,
                "off: waits longer than deadlock_timeout leave no trace in the log",
                "ALTER SYSTEM SET log_lock_waits = on; SELECT pg_reload_conf()",
            )
        )
    return findings


def check_autovacuum(cur, cfg: DoctorConfig) -> list[Finding]:
    findings = []
    if _one(cur, "SELECT current_setting('autovacuum')")[0] != "on":
        findings.append(
            Finding(
                "autovacuum",
                FAIL,
                "autovacuum is off server-wide",
                "ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf()",
            )
        )
    for table in HOT_TABLES:
        row = _one(
            cur,
            """
            SELECT s.n_live_tup, s.n_dead_tup,
                   COALESCE('autovacuum_enabled=false' = ANY(c.reloptions), false),
                   GREATEST(s.last_autovacuum, s.last_vacuum)
              FROM pg_class c
              JOIN pg_stat_user_tables s ON s.relid = c.oid
             WHERE c.oid = to_regclass(%s)
            """,
            (table,),
        )
        if row is None:
            continue  # module not installed
        live, dead, disabled, last = row
        total = live + dead
        ratio = dead / total if total else 0.0
        name = f"bloat {table}"
        detail = (
            f"{dead} dead of {total} rows ({ratio:.0%}), last vacuum "
            f"{last:%Y-%m-%d %H:%M} UTC"
            if last
            else f"{dead} dead of {total} rows ({ratio:.0%}), never vacuumed"
        )
        fix = f"VACUUM (ANALYZE) {table}; and check autovacuum keeps up"
        if disabled:
            findings.append(
                Finding(
                    name,
                    FAIL,
                    f"autovacuum disabled on {table}; {detail}",
                    f"ALTER TABLE {table} RESET (autovacuum_enabled); VACUUM {table}",
                )
            )
        elif dead >= cfg.bloat_min_dead_rows and ratio >= cfg.bloat_fail_ratio:
            findings.append(Finding(name, FAIL, detail, fix))
        elif dead >= cfg.bloat_min_dead_rows and ratio >= cfg.bloat_warn_ratio:
            findings.append(Finding(name, WARN, detail, fix))
        else:
            findings.append(Finding(name, PASS, detail))
    return findings


def check_indexes(cur, cfg: DoctorConfig) -> list[Finding]:
    findings = []
    for table, column, why in REQUIRED_INDEXES:
        if not _table_exists(cur, table):
            continue
        found = _one(
            cur,
            """
            SELECT count(*) FROM pg_index i
              JOIN pg_attribute a ON a.attrelid = i.indrelid
                                 AND a.attnum = i.indkey[0]
             WHERE i.indrelid = to_regclass(%s) AND a.attname = %s
               AND i.indisvalid AND i.indpred IS NULL
            """,
            (table, column),
        )[0]
        name = f"index {table}({column})"
        if found:
            findings.append(Finding(name, PASS, "present"))
        else:
            findings.append(
                Finding(
                    name,
                    FAIL,
                    f"missing: {why}",
                    f"CREATE INDEX CONCURRENTLY {table}_{column}_index "
                    f"ON {table} ({column})",
                )
            )
    return findings


# --- queue_job and the governor ----------------------------------------------


def check_queue_mode(cur, cfg: DoctorConfig, modules: set[str]) -> list[Finding]:
    findings = []
    for module in ("queue_job", "peak_queue"):
        if module not in modules:
            findings.append(
                Finding(
                    f"module {module}",
                    FAIL,
                    "not installed",
                    f"install {module} (Apps), then restart Odoo",
                )
            )
    channels = cfg.environ.get("ODOO_QUEUE_JOB_CHANNELS", cfg.queue_job_channels)
    if channels is None:
        findings.append(
            Finding(
                "queue_job channel mode",
                SKIP,
                "unknown: give --odoo-config to check the jobrunner's channels",
            )
        )
    elif channels.strip():
        findings.append(
            Finding(
                "queue_job channel mode",
                FAIL,
                f"server-wide channels string {channels.strip()!r}: channel "
                "capacities and pauses from the database are ignored",
                "remove [queue_job] channels / ODOO_QUEUE_JOB_CHANNELS and set "
                "max_capacity; configure channels in Odoo",
            )
        )
    else:
        findings.append(
            Finding("queue_job channel mode", PASS, "channels read from the database")
        )
    if cfg.server_wide_modules is not None:
        wide = {m.strip() for m in cfg.server_wide_modules.split(",")}
        missing = [m for m in ("queue_job", "peak_queue") if m not in wide]
        if missing:
            findings.append(
                Finding(
                    "server_wide_modules",
                    FAIL,
                    f"missing {', '.join(missing)}: the jobrunner does not start "
                    "or ignores leases",
                    "server_wide_modules = base,web,queue_job,peak_queue",
                )
            )
        else:
            findings.append(
                Finding("server_wide_modules", PASS, "queue_job and peak_queue loaded")
            )
    return findings


CHANNELS_DOCTOR_SQL = """
WITH RECURSIVE chain(start_id, id, parent_id, priority_class) AS (
    SELECT id, id, parent_id, priority_class FROM queue_job_channel
    UNION ALL
    SELECT chain.start_id, c.id, c.parent_id, c.priority_class
      FROM queue_job_channel c JOIN chain ON c.id = chain.parent_id
)
SELECT ch.complete_name, ch.pinned, ch.paused,
       bool_or(chain.priority_class IS NOT NULL) AS classified
  FROM queue_job_channel ch JOIN chain ON chain.start_id = ch.id
 GROUP BY ch.id, ch.complete_name, ch.pinned, ch.paused
 ORDER BY ch.complete_name
"""


def check_channels(cur, cfg: DoctorConfig) -> list[Finding]:
    rows = _all(cur, CHANNELS_DOCTOR_SQL)
    findings = []
    unclassified = [name for name, _p, _z, classified in rows if not classified]
    pinned = [name for name, is_pinned, _z, _c in rows if is_pinned]
    paused = [name for name, _p, is_paused, _c in rows if is_paused]
    where = "Peak Operations > Job queue > Channels"
    if unclassified:
        findings.append(
            Finding(
                "channels classified",
                WARN,
                f"no class on {', '.join(unclassified)} nor above it (runs as "
                "operational, never paused first)",
                f"set a class on the channel or on root in {where}",
            )
        )
    else:
        findings.append(
            Finding("channels classified", PASS, f"all {len(rows)} channels")
        )
    if pinned:
        findings.append(
            Finding(
                "channel pins",
                WARN,
                f"pinned (never paused): {', '.join(pinned)}",
                f"untick Never pause in {where} unless an urgent import needs it",
            )
        )
    else:
        findings.append(Finding("channel pins", PASS, "no channel pinned"))
    if paused:
        findings.append(
            Finding(
                "channel manual pause",
                WARN,
                f"paused by hand: {', '.join(paused)} (no job of it runs, ever)",
                f"resume the channel in {where}",
            )
        )
    else:
        findings.append(Finding("channel manual pause", PASS, "no channel paused"))
    return findings


def check_governor(cur, cfg: DoctorConfig) -> list[Finding]:
    row = _one(
        cur,
        "SELECT holder, level, EXTRACT(EPOCH FROM expires_at - "
        "(now() AT TIME ZONE 'utc'))::float8 FROM peak_queue_governor_leader",
    )
    if row is None or row[2] <= 0:
        return [
            Finding(
                "governor leader",
                FAIL,
                "no governor holds the leadership (none running, or it lost "
                "the database)" + (f"; last holder {row[0]}" if row else ""),
                "start peak-governor (make run, the governor Deployment) and check "
                "`peak-governor status` and its log",
            )
        ]
    return [
        Finding(
            "governor leader",
            PASS,
            f"{row[0]} (level {row[1] or 'unknown'}, {row[2]:.0f}s left)",
        )
    ]


def check_leases(cur, cfg: DoctorConfig) -> list[Finding]:
    rows = _all(
        cur,
        """
        SELECT c.complete_name, c.pinned, peak_queue_channel_class(c.id),
               EXTRACT(EPOCH FROM l.expires_at - (now() AT TIME ZONE 'utc'))::float8,
               peak_queue_max_ttl()
          FROM peak_queue_lease l JOIN queue_job_channel c ON c.id = l.channel_id
         WHERE l.state = 'active'
        """,
    )
    bad, stale = [], []
    for channel, pinned, klass, remaining, max_ttl in rows:
        if remaining <= 0:
            stale.append(channel)
        elif pinned or klass == "critical":
            bad.append(f"{channel} is {'pinned' if pinned else 'critical'} but leased")
        elif remaining > max_ttl + 5:
            bad.append(f"{channel} leased for {remaining:.0f}s > max {max_ttl}s")
    findings = []
    if bad:
        findings.append(
            Finding(
                "leases consistent",
                FAIL,
                "; ".join(bad),
                "release the lease in Peak Operations > Job queue > Channels and "
                "check who wrote it (Governor activity)",
            )
        )
    elif stale:
        findings.append(
            Finding(
                "leases consistent",
                WARN,
                f"expired but still marked active: {', '.join(stale)} (nobody "
                "ran peak_queue_lease_expire(): is the governor running?)",
                "start the governor; it expires them on its next cycle",
            )
        )
    else:
        findings.append(
            Finding("leases consistent", PASS, f"{len(rows)} active lease(s)")
        )
    return findings


def check_protected_interval(cur, cfg: DoctorConfig, now=None) -> list[Finding]:
    now = now or datetime.now(UTC)
    row = _one(
        cur,
        "SELECT value FROM ir_config_parameter "
        "WHERE key = 'peak_base.protected_intervals'",
    )
    fix = (
        "check that Odoo's cron runs (peak_base publishes this hourly) and that "
        "fulfillment windows exist in Peak Operations > Configuration"
    )
    name = "next protected interval"
    if row is None:
        return [Finding(name, FAIL, "never published by peak_base", fix)]
    try:
        document = json.loads(row[0])
        valid_until = _parse_iso(document["valid_until"])
        intervals = [(_parse_iso(a), _parse_iso(b)) for a, b in document["intervals"]]
    except (ValueError, KeyError, TypeError) as exc:
        return [Finding(name, FAIL, f"unreadable document: {exc}", fix)]
    if valid_until <= now:
        return [
            Finding(
                name,
                FAIL,
                f"stale: valid until {valid_until:%Y-%m-%d %H:%M} UTC",
                fix,
            )
        ]
    current = [(a, b) for a, b in intervals if a <= now < b]
    if current:
        return [
            Finding(
                name, PASS, f"protected now, until {current[0][1]:%Y-%m-%d %H:%M} UTC"
            )
        ]
    upcoming = sorted(a for a, b in intervals if a > now)
    if upcoming:
        return [Finding(name, PASS, f"next at {upcoming[0]:%Y-%m-%d %H:%M} UTC")]
    return [
        Finding(
            name,
            WARN,
            f"none until {valid_until:%Y-%m-%d %H:%M} UTC: the governor never "
            "protects fulfillment",
            "add fulfillment windows (Peak Operations > Configuration)",
        )
    ]


def _parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- WAL archiving and backups -----------------------------------------------


def check_wal_archiving(cur, cfg: DoctorConfig) -> list[Finding]:
    mode = _one(cur, "SELECT current_setting('archive_mode')")[0]
    name = "WAL archiving"
    if mode == "off":
        return [
            Finding(
                name,
                FAIL,
                "archive_mode is off: no point-in-time recovery",
                "configure pgBackRest (docs/runbook-pre-peak.md): archive_mode = on, "
                "archive_command = 'pgbackrest --stanza=... archive-push %p' (restart)",
            )
        ]
    archived, last_archived, failed, last_failed, failed_wal = _one(
        cur,
        "SELECT archived_count, last_archived_time, failed_count, last_failed_time,"
        " last_failed_wal FROM pg_stat_archiver",
    )
    if last_failed and (last_archived is None or last_failed > last_archived):
        return [
            Finding(
                name,
                FAIL,
                f"failing: {failed} failure(s), last on {failed_wal} at "
                f"{last_failed:%Y-%m-%d %H:%M:%S} UTC, nothing archived since",
                "read the PostgreSQL log for archive_command's error; `pgbackrest "
                "--stanza=... check`",
            )
        ]
    if not archived:
        return [
            Finding(
                name,
                WARN,
                "archive_mode on but nothing archived yet",
                "SELECT pg_switch_wal(); then run the doctor again",
            )
        ]
    return [
        Finding(
            name,
            PASS,
            f"{archived} WAL files archived, last at "
            f"{last_archived:%Y-%m-%d %H:%M:%S} UTC",
        )
    ]


def pgbackrest_info(stanza: str, config_path: str = "", timeout: float = 60) -> dict:
    """``pgbackrest info --output=json`` for one stanza."""
    binary = shutil.which("pgbackrest")
    if not binary:
        raise RuntimeError("pgbackrest is not installed (apt-get install pgbackrest)")
    argv = [binary, f"--stanza={stanza}", "--output=json"]
    if config_path:
        argv.insert(1, f"--config={config_path}")
    done = subprocess.run(
        [*argv, "info"], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        raise RuntimeError((done.stderr or done.stdout).strip()[-500:])
    data = json.loads(done.stdout)
    return data[0] if data else {}


def check_backup_age(cur, cfg: DoctorConfig, now: float | None = None) -> list[Finding]:
    name = "newest backup"
    if not cfg.pgbackrest_stanza:
        return [
            Finding(
                name,
                WARN,
                "not checked: no pgBackRest stanza given",
                "pass --pgbackrest-stanza (PEAK_DOCTOR_PGBACKREST_STANZA), or check "
                "your backup tool (CloudNativePG: kubectl cnpg status)",
            )
        ]
    try:
        info = pgbackrest_info(
            cfg.pgbackrest_stanza, cfg.pgbackrest_config, timeout=cfg.probe_timeout * 20
        )
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return [
            Finding(
                name,
                FAIL,
                f"pgbackrest info failed: {exc}",
                "`pgbackrest --stanza=... check` and its log",
            )
        ]
    backups = info.get("backup") or []
    fix = "pgbackrest --stanza=... --type=full backup, and schedule it"
    status = info.get("status") or {}
    if status.get("code") not in (0, None) and not backups:
        return [
            Finding(
                name,
                FAIL,
                f"stanza {cfg.pgbackrest_stanza}: {status.get('message', 'error')}",
                "pgbackrest --stanza=... stanza-create, then a full backup",
            )
        ]
    if not backups:
        return [Finding(name, FAIL, "no backup in the repository", fix)]
    newest = max(b["timestamp"]["stop"] for b in backups)
    age_h = ((now or time.time()) - newest) / 3600
    label = max(backups, key=lambda b: b["timestamp"]["stop"])["label"]
    detail = f"{label}, {age_h:.1f} h old (target {cfg.max_backup_age_hours:g} h)"
    if age_h > cfg.max_backup_age_hours:
        return [Finding(name, FAIL, detail, fix)]
    return [Finding(name, PASS, detail)]


# --- companion services (when their addon is installed) ----------------------


def check_s3(cfg: DoctorConfig) -> list[Finding]:
    """Odoo's bucket, from Odoo's own settings code: env PEAK_S3_* >
    [peak_attachment_s3] > defaults (no endpoint: plain AWS S3)."""
    name = "S3 attachments"
    try:
        s3 = companions.s3_config(cfg.environ, cfg.sections)
    except SettingError as exc:
        return [
            Finding(
                name,
                FAIL,
                f"peak_attachment_s3 is installed but its settings are refused: {exc}",
                "run the doctor with the same PEAK_S3_* environment and --odoo-config "
                "as Odoo",
            )
        ]
    if s3.enabled is False:
        return [Finding(name, SKIP, "turned off (PEAK_S3_ENABLED)")]
    where = companions.s3_where(s3)
    try:
        client = companions.s3_client(s3, cfg.environ, cfg.probe_timeout)
        started = time.monotonic()
        client.head_bucket(Bucket=s3.bucket)
        ms = (time.monotonic() - started) * 1000
    except Exception as exc:  # any failure is the finding
        return [
            Finding(
                name,
                FAIL,
                f"bucket {s3.bucket} at {where} unreachable: {type(exc).__name__}: "
                f"{str(exc)[:200]}",
                "check the S3 endpoint, credentials and bucket (PEAK_S3_*, AWS_*)",
            )
        ]
    status = WARN if ms > 200 else PASS
    return [
        Finding(
            name,
            status,
            f"bucket {s3.bucket} answers in {ms:.0f} ms ({where})",
            "S3 latency over 200 ms slows every label print" if status == WARN else "",
        )
    ]


def check_redis(cfg: DoctorConfig) -> list[Finding]:
    """Odoo's session store, from Odoo's own settings code: PEAK_REDIS_URL or
    the Sentinels (PEAK_REDIS_SENTINELS), env > [peak_session_redis]."""
    name = "session store"
    fix = "run the doctor with the same PEAK_REDIS_* environment and --odoo-config"
    try:
        store = companions.redis_config(cfg.environ, cfg.sections)
    except SettingError as exc:
        return [Finding(name, FAIL, f"settings refused: {exc}", fix)]
    if not store.enabled:
        return [
            Finding(
                name,
                FAIL,
                "peak_session_redis is installed but neither PEAK_REDIS_URL nor "
                "PEAK_REDIS_SENTINELS is set for the doctor (sessions stay on the "
                "filesystem)",
                fix,
            )
        ]
    try:
        started = time.monotonic()
        companions.redis_ping(store, cfg.probe_timeout)
        ms = (time.monotonic() - started) * 1000
    except Exception as exc:  # any failure is the finding
        return [
            Finding(
                name,
                FAIL,
                f"Redis unreachable at {store.target}: {type(exc).__name__}: "
                f"{str(exc)[:200]}",
                "check Redis and PEAK_REDIS_URL / PEAK_REDIS_SENTINELS",
            )
        ]
    status = WARN if ms > 50 else PASS
    return [
        Finding(
            name,
            status,
            f"Redis answers PING in {ms:.1f} ms ({store.target})",
            "Redis latency over 50 ms slows every request" if status == WARN else "",
        )
    ]


def check_metrics_protected(cfg: DoctorConfig) -> list[Finding]:
    name = "/metrics protected"
    if not cfg.odoo_url:
        return [
            Finding(
                name,
                SKIP,
                "not checked: give --odoo-url",
            )
        ]
    url = cfg.odoo_url.rstrip("/") + "/metrics"
    try:
        with urllib.request.urlopen(url, timeout=cfg.probe_timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        return [Finding(name, FAIL, f"{url} unreachable: {exc}", "check Odoo")]
    if status in (401, 403):
        findings = [Finding(name, PASS, f"{url} refuses anonymous scrapes ({status})")]
    else:
        return [
            Finding(
                name,
                FAIL,
                f"{url} answered {status} without a token",
                "set PEAK_METRICS_TOKEN for Odoo and the scraper",
            )
        ]
    try:
        token = metrics_settings.load(
            cfg.environ, cfg.sections.get(metrics_settings.SECTION)
        ).token
    except SettingError as exc:
        findings.append(Finding("/metrics scrape", FAIL, str(exc), "fix the setting"))
        token = ""
    if token:
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=cfg.probe_timeout):
                pass
        except (urllib.error.HTTPError, OSError) as exc:
            findings.append(
                Finding(
                    "/metrics scrape",
                    FAIL,
                    f"the token is refused: {exc}",
                    "PEAK_METRICS_TOKEN differs between Odoo and the doctor",
                )
            )
    return findings


# --- running everything --------------------------------------------------------


def run_checks(cur, cfg: DoctorConfig, guard=None) -> list[Finding]:
    """Every check, in the order of the runbook; one failing check does not
    stop the others (a check that raises becomes a failed finding).

    ``guard``: a context-manager factory wrapping each check, e.g. Odoo's
    ``cr.savepoint``, so an SQL error undoes only that check; without it the
    connection is rolled back after an error (the CLI's own connection)."""
    modules = installed_modules(cur)
    has_peak = "peak_queue" in modules
    steps = [
        ("connection budget", lambda: check_connection_budget(cur, cfg)),
        (
            "idle_in_transaction_session_timeout",
            lambda: check_idle_in_transaction(cur, cfg),
        ),
        ("job lock/statement timeouts", lambda: check_job_timeouts(cur, cfg)),
        ("lock logging", lambda: check_lock_logging(cur, cfg)),
        ("autovacuum", lambda: check_autovacuum(cur, cfg)),
        ("indexes", lambda: check_indexes(cur, cfg)),
        ("queue_job mode", lambda: check_queue_mode(cur, cfg, modules)),
    ]
    if has_peak:
        steps += [
            ("channels", lambda: check_channels(cur, cfg)),
            ("governor leader", lambda: check_governor(cur, cfg)),
            ("leases consistent", lambda: check_leases(cur, cfg)),
        ]
    if "peak_base" in modules:
        steps.append(
            ("next protected interval", lambda: check_protected_interval(cur, cfg))
        )
    steps += [
        ("WAL archiving", lambda: check_wal_archiving(cur, cfg)),
        ("newest backup", lambda: check_backup_age(cur, cfg)),
    ]
    if "peak_attachment_s3" in modules:
        steps.append(("S3 attachments", lambda: check_s3(cfg)))
    if "peak_session_redis" in modules:
        steps.append(("session store", lambda: check_redis(cfg)))
    if "peak_metrics" in modules:
        steps.append(("/metrics protected", lambda: check_metrics_protected(cfg)))
    findings: list[Finding] = []
    for name, step in steps:
        try:
            if guard is None:
                findings.extend(step())
            else:
                with guard():
                    findings.extend(step())
        except Exception as exc:  # report, keep checking
            if guard is None:
                _rollback(cur)
            findings.append(
                Finding(name, FAIL, f"check crashed: {type(exc).__name__}: {exc}")
            )
    return findings


def _rollback(cur) -> None:
    """After an SQL error the transaction must be reset to go on checking."""
    connection = getattr(cur, "connection", None)
    if connection is not None and not getattr(connection, "autocommit", False):
        try:
            connection.rollback()
        except Exception:  # nothing more to do
            pass


def overall(findings: list[Finding]) -> str:
    statuses = {f.status for f in findings}
    for status in (FAIL, WARN):
        if status in statuses:
            return status
    return PASS


def exit_code(findings: list[Finding]) -> int:
    return EXIT_CODES[overall(findings)]


def render_text(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"{finding.status.upper():<4}  {finding.check}: {finding.message}")
        if finding.fix and finding.status in (WARN, FAIL):
            lines.append(f"      fix: {finding.fix}")
    counts = {s: sum(f.status == s for f in findings) for s in (PASS, WARN, FAIL, SKIP)}
    lines.append(
        f"{overall(findings).upper()}: {counts[PASS]} pass, {counts[WARN]} warn, "
        f"{counts[FAIL]} fail, {counts[SKIP]} skipped"
    )
    return "\n".join(lines)


def render_json(findings: list[Finding]) -> str:
    return json.dumps(
        {
            "status": overall(findings),
            "exit_code": exit_code(findings),
            "checks": [f.as_dict() for f in findings],
        },
        indent=2,
    )


# --- configuration from flags and env -------------------------------------------

# (flag, env suffix, field, type)
DOCTOR_OPTIONS = [
    ("--odoo-role", "ODOO_ROLE", "odoo_role", str),
    ("--workers", "WORKERS", "workers", int),
    ("--db-maxconn", "DB_MAXCONN", "db_maxconn", int),
    ("--cron-threads", "CRON_THREADS", "cron_threads", int),
    ("--jobrunners", "JOBRUNNERS", "jobrunners", int),
    ("--governors", "GOVERNORS", "governors", int),
    ("--pooler-connections", "POOLER_CONNECTIONS", "pooler_connections", int),
    ("--bloat-warn-ratio", "BLOAT_WARN_RATIO", "bloat_warn_ratio", float),
    ("--bloat-fail-ratio", "BLOAT_FAIL_RATIO", "bloat_fail_ratio", float),
    ("--max-backup-age-hours", "MAX_BACKUP_AGE_HOURS", "max_backup_age_hours", float),
    ("--pgbackrest-stanza", "PGBACKREST_STANZA", "pgbackrest_stanza", str),
    ("--pgbackrest-config", "PGBACKREST_CONFIG", "pgbackrest_config", str),
    ("--odoo-url", "ODOO_URL", "odoo_url", str),
    ("--probe-timeout", "PROBE_TIMEOUT", "probe_timeout", float),
]


def add_arguments(parser) -> None:
    parser.add_argument(
        "--odoo-config",
        default=None,
        help="Odoo configuration file: workers, db_maxconn, max_cron_threads, "
        "[queue_job] channels (env PEAK_DOCTOR_ODOO_CONFIG)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    for flag, env, _field, _kind in DOCTOR_OPTIONS:
        parser.add_argument(flag, default=None, help=f"env PEAK_DOCTOR_{env}")


def config_from(args, environ=os.environ) -> DoctorConfig:
    """flags > env PEAK_DOCTOR_* > the Odoo config file > defaults."""
    values: dict = {}
    odoo_config = get(
        str,
        flag="--odoo-config",
        flag_value=getattr(args, "odoo_config", None),
        environ=environ,
        env="PEAK_DOCTOR_ODOO_CONFIG",
    )
    if odoo_config:
        values.update(read_odoo_config(odoo_config))
    values.update(read_options(DOCTOR_OPTIONS, args, environ, "PEAK_DOCTOR_"))
    return DoctorConfig(environ=dict(environ), **values).validate()


def main(argv: list[str]) -> int:
    """``peak-governor doctor``: exit 0 pass, 1 warn, 2 fail or bad setting."""
    import argparse
    import sys

    import psycopg

    parser = argparse.ArgumentParser(
        prog="peak-governor doctor",
        description="Pre-peak readiness checks: pass / warn / fail, each with "
        "the fix. Exit 0 all pass, 1 a warning, 2 a failure. Connect as Odoo's "
        "role (or give --odoo-role) so role settings are read for it.",
    )
    parser.add_argument(
        "--dsn", default=None, help="env PEAK_DOCTOR_DSN, else PEAK_GOVERNOR_DSN"
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg = config_from(args)
        dsn = (
            args.dsn
            or os.environ.get("PEAK_DOCTOR_DSN")
            or os.environ.get("PEAK_GOVERNOR_DSN")
        )
        if not dsn:
            raise DoctorConfigError("no DSN: set --dsn or PEAK_DOCTOR_DSN")
        with psycopg.connect(
            dsn, autocommit=True, connect_timeout=max(1, int(cfg.probe_timeout))
        ) as conn:
            conn.execute("SET application_name = 'peak-governor doctor'")
            with conn.cursor() as cur:
                findings = run_checks(cur, cfg)
    except DoctorConfigError as exc:
        print(f"peak-governor doctor: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        findings = [
            Finding(
                "PostgreSQL reachable",
                FAIL,
                str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc),
                "check the DSN, that PostgreSQL runs and accepts this role",
            )
        ]
    print(render_json(findings) if args.json else render_text(findings))
    return exit_code(findings)
