"""PostgreSQL server and role settings the peak depends on.

- the connection budget: Odoo's workers, cron threads and gevent, the
  jobrunner, the governor and a pooler against ``max_connections``;
- the settings Odoo's role starts its sessions with
  (``idle_in_transaction_session_timeout``, ``lock_timeout``,
  ``statement_timeout``), as ``pg_db_role_setting`` resolves them;
- lock logging (``deadlock_timeout``, ``log_lock_waits``);
- autovacuum, server-wide and on the hot tables, and their bloat;
- the indexes the peak queries need.
"""

from .config import DoctorConfig
from .db import _all, _one, _table_exists
from .report import FAIL, PASS, WARN, Finding

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
        elif dead < cfg.bloat_min_dead_rows:
            # A small table is no bloat whatever its ratio: say so, or a PASS
            # next to "100 %" reads as a contradiction.
            findings.append(
                Finding(
                    name,
                    PASS,
                    f"{detail}; under {cfg.bloat_min_dead_rows} dead rows, "
                    "too few to matter",
                )
            )
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
