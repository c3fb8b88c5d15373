"""Settings of the S3 attachment store (addon ``peak_attachment_s3``).

Shared with ``peak-governor doctor`` and the drills, so they read a deployment
exactly as Odoo does (an empty endpoint: plain AWS S3).

One rule: environment variable ``PEAK_S3_<NAME>`` > key ``s3_<name>`` (or
``<name>``) of the ``[peak_attachment_s3]`` section of the Odoo config file >
default.  Credentials are deliberately *not* part of it: boto3's standard chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, web identity
/ IRSA, instance metadata) provides them, and they never reach the database.
"""

import re
import string
from dataclasses import asdict, dataclass, fields
from urllib.parse import urlparse

from .reader import SettingError, read_fields, refuse

SECTION = "peak_attachment_s3"
ENV_PREFIX = "PEAK_S3_"
PREFIX_PLACEHOLDERS = {"db"}
ADDRESSING_STYLES = ("auto", "path", "virtual")
# S3 bucket naming rules (lower case, 3-63 chars, no leading/trailing dot/dash).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
ConfigError = SettingError


@dataclass(frozen=True)
class S3Config:
    #: None: not said here, ``ir_attachment.location = s3`` decides.
    enabled: bool | None = None
    bucket: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    key_prefix: str = "odoo/{db}/"
    addressing_style: str = "auto"
    #: images up to this size stay in the database (as thumbnails should)
    db_store_max_bytes: int = 20480
    connect_timeout: float = 2.0
    read_timeout: float = 15.0
    max_attempts: int = 3
    #: a whole call (retries included) gives up after this (+1 s per MB sent)
    call_timeout_seconds: float = 5.0
    #: after a timeout, calls fail at once for this long, then one tries again
    retry_interval_seconds: float = 5.0
    #: downloads of at least this size redirect to a presigned URL; 0: never
    presign_min_bytes: int = 0
    presign_expiry_seconds: int = 300
    #: downloads of at least this size stream in chunks instead of in memory
    stream_min_bytes: int = 1048576
    migration_batch_size: int = 500
    migration_threads: int = 8
    #: the GC leaves objects younger than this alone (in-flight uploads)
    gc_min_age_seconds: int = 3600
    #: the GC moves what it collects under this bucket prefix (+ the key)...
    quarantine_prefix: str = "quarantine/"
    #: ...and deletes it from there after so many days
    quarantine_days: int = 30
    max_pool_connections: int = 16
    #: local read cache of objects (shared by a host's workers); empty: under
    #: Odoo's data_dir
    cache_dir: str = ""
    #: its size limit; 0 turns it off
    cache_max_bytes: int = 1073741824

    def prefix_for(self, db_name: str) -> str:
        return self.key_prefix.format(db=db_name)

    @property
    def prefix_per_database(self) -> bool:
        return "{db}" in self.key_prefix

    def masked(self) -> dict:
        """Everything, for the log: nothing here is secret, but an endpoint URL
        may carry user:password, which is masked."""
        values = asdict(self)
        parsed = urlparse(self.endpoint_url)
        if parsed.password:
            values["endpoint_url"] = self.endpoint_url.replace(parsed.password, "***")
        return values


_POSITIVE = (
    "connect_timeout",
    "read_timeout",
    "call_timeout_seconds",
    "retry_interval_seconds",
)


def load(environ, section) -> S3Config:
    """The effective configuration; SettingError names the bad setting.

    Keys of the section: ``s3_<name>``, else ``<name>``."""
    found = read_fields(
        S3Config,
        environ=environ,
        env_prefix=ENV_PREFIX,
        section=section or {},
        section_name=SECTION,
        keys=lambda name: (f"s3_{name}", name),
        bounds={f.name: (0, None) for f in fields(S3Config) if f.type in (int, "int")},
    )
    for name in _POSITIVE:
        if name in found and found[name][0] <= 0:
            value, source = found[name]
            raise refuse(source, value, "must be > 0")
    return S3Config(**{name: value for name, (value, _source) in found.items()})


def validate(cfg: S3Config) -> None:
    """Checks that need no network; run when the store is turned on."""
    if not cfg.bucket:
        raise ConfigError(
            "no bucket: set PEAK_S3_BUCKET or s3_bucket in [peak_attachment_s3]"
        )
    if not _BUCKET_RE.match(cfg.bucket) or ".." in cfg.bucket:
        raise ConfigError(f"PEAK_S3_BUCKET {cfg.bucket!r} is not a valid bucket name")
    if cfg.endpoint_url:
        parsed = urlparse(cfg.endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(
                f"PEAK_S3_ENDPOINT_URL {cfg.endpoint_url!r} is not an http(s) URL"
            )
        try:
            parsed.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ConfigError(
                f"PEAK_S3_ENDPOINT_URL {cfg.endpoint_url!r} has an invalid port"
            ) from None
    if cfg.addressing_style not in ADDRESSING_STYLES:
        raise ConfigError(
            f"PEAK_S3_ADDRESSING_STYLE must be one of {', '.join(ADDRESSING_STYLES)}, "
            f"not {cfg.addressing_style!r}"
        )
    _validate_prefixes(cfg)
    if cfg.cache_dir and not cfg.cache_dir.startswith("/"):
        raise ConfigError(f"PEAK_S3_CACHE_DIR {cfg.cache_dir!r} must be absolute")
    if cfg.quarantine_days < 1:
        raise ConfigError("PEAK_S3_QUARANTINE_DAYS must be at least 1")
    if cfg.max_attempts < 1:
        raise ConfigError("PEAK_S3_MAX_ATTEMPTS must be at least 1")
    if cfg.migration_batch_size < 1 or cfg.migration_threads < 1:
        raise ConfigError("PEAK_S3_MIGRATION_BATCH_SIZE and _THREADS must be >= 1")
    if not 1 <= cfg.presign_expiry_seconds <= 604800:
        raise ConfigError("PEAK_S3_PRESIGN_EXPIRY_SECONDS must be in 1..604800")


def _validate_prefixes(cfg: S3Config) -> None:
    """The key prefix and the quarantine's, apart from each other."""
    try:
        names = {
            name for _, name, _, _ in string.Formatter().parse(cfg.key_prefix) if name
        }
    except ValueError as exc:
        raise ConfigError(f"PEAK_S3_KEY_PREFIX {cfg.key_prefix!r}: {exc}") from None
    unknown = names - PREFIX_PLACEHOLDERS
    if unknown:
        raise ConfigError(
            f"PEAK_S3_KEY_PREFIX {cfg.key_prefix!r} uses unknown placeholder(s) "
            f"{', '.join(sorted('{' + n + '}' for n in unknown))}; only {{db}} exists"
        )
    if cfg.key_prefix.startswith("/") or (
        cfg.key_prefix and not cfg.key_prefix.endswith("/")
    ):
        raise ConfigError(
            f"PEAK_S3_KEY_PREFIX {cfg.key_prefix!r} must end with '/' and not "
            "start with one (e.g. odoo/{db}/)"
        )
    if not cfg.quarantine_prefix.endswith("/") or cfg.quarantine_prefix.startswith("/"):
        raise ConfigError(
            f"PEAK_S3_QUARANTINE_PREFIX {cfg.quarantine_prefix!r} must end with '/' "
            "and not start with one (e.g. quarantine/)"
        )
    static = cfg.key_prefix.split("{", 1)[0]
    if static.startswith(cfg.quarantine_prefix) or (
        static and cfg.quarantine_prefix.startswith(static) and "{" in cfg.key_prefix
    ):
        raise ConfigError(
            f"PEAK_S3_QUARANTINE_PREFIX {cfg.quarantine_prefix!r} overlaps "
            f"PEAK_S3_KEY_PREFIX {cfg.key_prefix!r}: collected objects must be "
            "kept apart from live ones"
        )
