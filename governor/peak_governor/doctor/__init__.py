"""``peak-governor doctor``: is this installation ready for the peak?

Every check returns findings: ``pass``, ``warn`` or ``fail`` with a message
and the fix, or ``skip`` when it does not apply (an addon not installed, a
setting the operator did not give). Exit code: 0 all pass, 1 a warning, 2 a
failure (or bad configuration).

The checks take a DB-API cursor (psycopg 3 from the CLI, Odoo's psycopg2
cursor from the Settings *Readiness* report) and only ``%s`` parameters, so
both sides run the same code and print the same words. Nothing here writes to
the database.

One module per thing checked: :mod:`.postgres` (server and role settings,
autovacuum, indexes), :mod:`.jobs` (queue_job, channels, the governor's
leadership and leases, protected intervals), :mod:`.backups` (WAL archiving,
the newest pgBackRest backup), :mod:`.services` (S3, Redis, ``/metrics``);
:mod:`.accounts` (Odoo's administrator password); :mod:`.governance` (access
grants past their end, the next peak period's change freeze); :mod:`.report`
holds the findings and their output, :mod:`.config` the settings. This module runs the
checks in order (:func:`run_checks`) and is the CLI (:func:`main`); every
name is importable from here.
"""

import os

from .accounts import check_admin_password
from .backups import check_backup_age, check_wal_archiving, pgbackrest_info
from .config import (
    DOCTOR_OPTIONS,
    DoctorConfig,
    DoctorConfigError,
    add_arguments,
    config_from,
    read_odoo_config,
)
from .db import installed_modules
from .governance import check_access_grants, check_freeze_ahead
from .jobs import (
    CHANNELS_DOCTOR_SQL,
    check_channels,
    check_governor,
    check_leases,
    check_protected_interval,
    check_queue_mode,
)
from .postgres import (
    HOT_TABLES,
    REQUIRED_INDEXES,
    check_autovacuum,
    check_connection_budget,
    check_idle_in_transaction,
    check_indexes,
    check_job_timeouts,
    check_lock_logging,
    role_setting,
)
from .report import (
    EXIT_CODES,
    FAIL,
    PASS,
    SKIP,
    WARN,
    Finding,
    exit_code,
    overall,
    render_json,
    render_text,
)
from .services import check_metrics_protected, check_redis, check_s3

__all__ = [
    "CHANNELS_DOCTOR_SQL",
    "DOCTOR_OPTIONS",
    "EXIT_CODES",
    "FAIL",
    "HOT_TABLES",
    "PASS",
    "REQUIRED_INDEXES",
    "SKIP",
    "WARN",
    "DoctorConfig",
    "DoctorConfigError",
    "Finding",
    "add_arguments",
    "check_access_grants",
    "check_admin_password",
    "check_autovacuum",
    "check_backup_age",
    "check_channels",
    "check_connection_budget",
    "check_freeze_ahead",
    "check_governor",
    "check_idle_in_transaction",
    "check_indexes",
    "check_job_timeouts",
    "check_leases",
    "check_lock_logging",
    "check_metrics_protected",
    "check_protected_interval",
    "check_queue_mode",
    "check_redis",
    "check_s3",
    "check_wal_archiving",
    "config_from",
    "exit_code",
    "installed_modules",
    "main",
    "overall",
    "pgbackrest_info",
    "read_odoo_config",
    "render_json",
    "render_text",
    "role_setting",
    "run_checks",
]


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
    if "base" in modules:
        steps.insert(0, ("administrator password", lambda: check_admin_password(cur)))
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
        steps.append(
            ("change freeze ahead", lambda: check_freeze_ahead(cur, cfg, modules))
        )
    if "peak_governance" in modules:
        steps.append(("access grants ended", lambda: check_access_grants(cur, cfg)))
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
