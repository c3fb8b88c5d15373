"""What the database cannot tell the doctor: the Odoo process layout and
the targets (:class:`DoctorConfig`), read from flags > env ``PEAK_DOCTOR_*``
> the Odoo configuration file > defaults. A bad setting is a
:data:`DoctorConfigError` (the CLI exits 2).
"""

import os
from dataclasses import dataclass, field

from peak_settings import (
    SettingError,
    convert,
    get,
    is_empty,
    read_odoo_conf,
    read_options,
)

#: A bad setting: the CLI exits 2 with this message (the one settings error).
DoctorConfigError = SettingError


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
    #: The report Odoo shows (Settings > Peak Operations > Readiness): its
    #: advice names Odoo's screens and deployment, not the doctor's flags.
    inside_odoo: bool = False
    environ: dict = field(default_factory=dict, compare=False, repr=False)
    #: ``[peak_*]`` sections of the Odoo config file (the addons read them)
    sections: dict = field(default_factory=dict, compare=False, repr=False)

    def advice(self, cli: str, odoo: str) -> str:
        """The fix for whoever reads the report: the doctor's user or Odoo's."""
        return odoo if self.inside_odoo else cli

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
