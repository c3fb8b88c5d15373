# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Configuration of the S3 attachment store (pure Python, no Odoo import).

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

SECTION = "peak_attachment_s3"
ENV_PREFIX = "PEAK_S3_"
PREFIX_PLACEHOLDERS = {"db"}
ADDRESSING_STYLES = ("auto", "path", "virtual")
# S3 bucket naming rules (lower case, 3-63 chars, no leading/trailing dot/dash).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting has a value the store cannot work with."""


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
    #: downloads of at least this size redirect to a presigned URL; 0: never
    presign_min_bytes: int = 0
    presign_expiry_seconds: int = 300
    #: downloads of at least this size stream in chunks instead of in memory
    stream_min_bytes: int = 1048576
    migration_batch_size: int = 500
    migration_threads: int = 8
    #: the GC leaves objects younger than this alone (in-flight uploads)
    gc_min_age_seconds: int = 3600
    max_pool_connections: int = 16

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


_INT_FIELDS = {f.name for f in fields(S3Config) if f.type in (int, "int")}
_FLOAT_FIELDS = {f.name for f in fields(S3Config) if f.type in (float, "float")}


def _raw_values(environ, section) -> dict:
    values = {}
    for field in fields(S3Config):
        name = field.name
        env_value = environ.get(ENV_PREFIX + name.upper())
        if env_value is not None:
            values[name] = (env_value, ENV_PREFIX + name.upper())
            continue
        for key in (f"s3_{name}", name):
            if key in section and section[key] not in (None, ""):
                values[name] = (section[key], f"[{SECTION}] {key}")
                break
    return values


def _parse_bool(value, source):
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{source} must be a boolean (1/0, true/false), not {value!r}")


def load(environ, section) -> S3Config:
    """The effective configuration; ConfigError names the bad setting."""
    kwargs = {}
    for name, (value, source) in _raw_values(environ, section or {}).items():
        if name == "enabled":
            kwargs[name] = _parse_bool(value, source)
        elif name in _INT_FIELDS:
            try:
                kwargs[name] = int(str(value).strip())
            except ValueError:
                raise ConfigError(
                    f"{source} must be an integer, not {value!r}"
                ) from None
            if kwargs[name] < 0:
                raise ConfigError(f"{source} must be >= 0, not {value!r}")
        elif name in _FLOAT_FIELDS:
            try:
                kwargs[name] = float(str(value).strip())
            except ValueError:
                raise ConfigError(f"{source} must be a number, not {value!r}") from None
            if kwargs[name] <= 0:
                raise ConfigError(f"{source} must be > 0, not {value!r}")
        else:
            kwargs[name] = str(value).strip()
    return S3Config(**kwargs)


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
    if cfg.max_attempts < 1:
        raise ConfigError("PEAK_S3_MAX_ATTEMPTS must be at least 1")
    if cfg.migration_batch_size < 1 or cfg.migration_threads < 1:
        raise ConfigError("PEAK_S3_MIGRATION_BATCH_SIZE and _THREADS must be >= 1")
    if not 1 <= cfg.presign_expiry_seconds <= 604800:
        raise ConfigError("PEAK_S3_PRESIGN_EXPIRY_SECONDS must be in 1..604800")


# Content-addressed keys --------------------------------------------------

SCHEME = "s3://"
_FNAME_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{40}$")
#: first key of the two-int advisory locks shared by writers and the GC
LOCK_NAMESPACE = 0x50453353  # "PES3"


def fname_for(checksum: str) -> str:
    """``store_fname`` of an object: the filestore layout behind ``s3://``."""
    return f"{SCHEME}{checksum[:2]}/{checksum}"


def is_s3(fname) -> bool:
    return bool(fname) and fname.startswith(SCHEME)


def relative(fname: str) -> str:
    """``ab/abcdef...`` from ``s3://ab/abcdef...`` or from a filestore name."""
    rel = fname[len(SCHEME) :] if is_s3(fname) else fname
    return rel


def key_for(prefix: str, fname: str) -> str:
    return prefix + relative(fname)


def fname_from_key(prefix: str, key: str) -> str | None:
    """The store_fname of an object key, or None for a foreign object."""
    if not key.startswith(prefix):
        return None
    rel = key[len(prefix) :]
    return SCHEME + rel if _FNAME_RE.match(rel) else None


def lock_id(fname: str) -> int:
    """Second key of the advisory lock of a content checksum: its first byte,
    the filestore's directory (256 locks at most per transaction, so a large
    import cannot fill PostgreSQL's lock table).  Sharing a lock only makes a
    writer wait for the GC's short delete, or the GC skip an object for a run.
    """
    sha = relative(fname).rsplit("/", 1)[-1]
    return int(sha[:2], 16)
