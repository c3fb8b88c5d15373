"""The restore drill's options (:class:`DrillOptions`): one source of the
backup, where the copy goes, what to check it with and the RTO / RPO
targets, read from flags > env ``PEAK_DRILL_*`` > defaults and validated
(bad options: :data:`~.common.DrillError`, exit 2).
"""

import argparse
import dataclasses
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from peak_settings import read_options

from .common import DrillError

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
