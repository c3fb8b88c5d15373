"""The ``PEAK_*`` settings of the local stack, read once and validated.

Rule shared with the addons and the governor: environment first, then default.
(The local stack writes the Odoo configuration file itself, so there is no
``[peak_*]`` section to read here.)
"""

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET_FIELDS = {
    "db_password",
    "admin_password",
    "s3_secret_key",
    "metrics_token",
    "redis_url",  # may carry a password
}


class SettingsError(ValueError):
    """A PEAK_* variable has a value that cannot work."""


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{name}={raw!r} is not a TCP port (1-65535)")
    return int(raw)


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name}={raw!r} must be a whole number >= 1")
    return int(raw)


def _db_name(name: str, default: str) -> str:
    value = os.environ.get(name, default)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}", value):
        raise SettingsError(
            f"{name}={value!r} is not a valid database name "
            "(letters, digits, _ . -; at most 63 characters)"
        )
    return value


@dataclass(frozen=True)
class Settings:
    venv: Path
    state_dir: Path
    odoo_src: Path
    db_name: str
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    pg_superuser: str
    admin_password: str
    http_port: int
    gevent_port: int
    # make run's edge (Traefik): the one URL users open.
    edge_port: int
    workers: int
    s3_endpoint_url: str
    s3_bucket: str
    s3_access_key: str
    s3_secret_key: str
    s3_port: int
    governor_role: str
    governor_http_port: int
    # peak_metrics: the local Prometheus and the /metrics token (empty: make run
    # generates one into .state/metrics-token).
    prometheus_port: int
    metrics_token: str
    # peak_session_redis: empty makes `make run` start a private redis-server.
    redis_url: str
    # PEAK_PG_ARCHIVE=1: the database on a private PostgreSQL under .state whose
    # WAL pgBackRest archives to a local S3 (docs/runbook-pre-peak.md).
    pg_archive: bool = False

    def masked(self) -> dict:
        """The effective settings as printable text, secrets masked."""
        out = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in SECRET_FIELDS and value:
                value = "***"
            out[field.name] = str(value)
        return out

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def odoo_bin(self) -> Path:
        return self.odoo_src / "odoo-bin"


def _flag(name: str) -> bool:
    value = os.environ.get(name, "0").strip().lower()
    if value not in ("0", "1", "", "true", "false", "yes", "no", "on", "off"):
        raise SettingsError(f"{name}={value!r} must be 0 or 1")
    return value in ("1", "true", "yes", "on")


def load() -> Settings:
    """Read and validate every PEAK_* variable; raise SettingsError if bad."""
    state_dir = Path(os.environ.get("PEAK_STATE_DIR", ROOT / ".state")).resolve()
    odoo_src_file = state_dir / "odoo-src"
    default_src = (
        odoo_src_file.read_text().strip() if odoo_src_file.exists() else "/opt/odoo"
    )
    odoo_src = Path(os.environ.get("ODOO_SRC") or default_src)
    if not (odoo_src / "odoo-bin").is_file():
        odoo_src = Path(default_src)
    settings = Settings(
        venv=Path(os.environ.get("PEAK_VENV", ROOT / ".venv")).resolve(),
        state_dir=state_dir,
        odoo_src=odoo_src,
        db_name=_db_name("PEAK_DB", "peak"),
        db_host=os.environ.get("PEAK_DB_HOST", ""),
        db_port=_port("PEAK_DB_PORT", 5432),
        db_user=os.environ.get("PEAK_DB_USER", "peak"),
        db_password=os.environ.get("PEAK_DB_PASSWORD", ""),
        pg_superuser=os.environ.get("PEAK_PG_SUPERUSER", "postgres"),
        admin_password=os.environ.get("PEAK_ADMIN_PASSWORD", "admin"),
        http_port=_port("PEAK_HTTP_PORT", 8069),
        gevent_port=_port("PEAK_GEVENT_PORT", 8072),
        edge_port=_port("PEAK_EDGE_PORT", 8080),
        workers=_positive_int("PEAK_WORKERS", 2),
        s3_endpoint_url=os.environ.get("PEAK_S3_ENDPOINT_URL", ""),
        s3_bucket=os.environ.get("PEAK_S3_BUCKET", "odoo-peak"),
        s3_access_key=os.environ.get("PEAK_S3_ACCESS_KEY", ""),
        s3_secret_key=os.environ.get("PEAK_S3_SECRET_KEY", ""),
        s3_port=_port("PEAK_S3_PORT", 8333),
        governor_role=os.environ.get("PEAK_GOVERNOR_ROLE", "peak_governor"),
        governor_http_port=_port("PEAK_GOVERNOR_HTTP_PORT", 9187),
        prometheus_port=_port("PEAK_PROMETHEUS_PORT", 9090),
        metrics_token=os.environ.get("PEAK_METRICS_TOKEN", ""),
        redis_url=os.environ.get("PEAK_REDIS_URL", ""),
        pg_archive=_flag("PEAK_PG_ARCHIVE"),
    )
    if settings.db_user == "postgres":
        raise SettingsError(
            "PEAK_DB_USER=postgres: Odoo refuses to run as the postgres superuser; "
            "use a dedicated role (default: peak)"
        )
    if settings.workers < 2:
        raise SettingsError("PEAK_WORKERS must be >= 2 (queue_job needs HTTP workers)")
    return settings
