"""Settings of the Redis session store (addon ``peak_session_redis``): env
``PEAK_REDIS_*`` > the ``[peak_session_redis]`` section of the Odoo config
file > defaults.

Shared with ``peak-governor doctor``, so it reads a deployment exactly as Odoo
does (Sentinels without ``PEAK_REDIS_URL`` included). The passwords (Redis'
and the Sentinels') are read from the environment only, never from the file.
"""

import os
import re
from dataclasses import dataclass, fields
from urllib.parse import urlsplit, urlunsplit

from .reader import SettingError, read_fields, refuse, resolve

SECTION = "peak_session_redis"
ENV_PREFIX = "PEAK_REDIS_"
DEFAULT_PREFIX = "peak:session:"
MIN_KEY_SECRET_CHARS = 32
_PREFIX_RE = re.compile(r"^[A-Za-z0-9:_.-]{1,64}$")
#: read from the environment only
ENV_ONLY = ("password", "sentinel_password", "key_secret")
ConfigError = SettingError
# (low, high) of the numbers
BOUNDS = {
    "socket_timeout": (0.05, 30),
    "connect_timeout": (0.05, 30),
    "anonymous_ttl": (60, 30 * 86400),
    "retry_interval": (0.1, 300),
}


@dataclass(frozen=True)
class StoreConfig:
    url: str = ""
    sentinels: tuple = ()  # ((host, port), ...)
    sentinel_master: str = ""
    #: Redis ACL user (a shared Redis gives each tenant its own); default user
    #: when empty
    username: str = ""
    password: str = ""
    #: ``requirepass`` of the Sentinels (environment only)
    sentinel_password: str = ""
    #: TLS to the Sentinels and to the master they name (a URL says rediss://)
    sentinel_tls: bool = False
    #: CA bundle that signs the server certificates (rediss:// or Sentinel TLS)
    tls_ca_file: str = ""
    #: keys and values hold HMACs of session ids under it (environment only)
    key_secret: str = ""
    prefix: str = DEFAULT_PREFIX
    socket_timeout: float = 1.0
    connect_timeout: float = 1.0
    anonymous_ttl: int = 3 * 3600
    retry_interval: float = 2.0
    migrate_filesystem: bool = True

    @property
    def enabled(self) -> bool:
        return bool(self.url or self.sentinels)

    @property
    def target(self) -> str:
        """Where sessions go, printable (no credentials)."""
        if self.sentinels:
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"sentinel://{hosts}/{self.sentinel_master}"
        return mask_url(self.url)

    def masked(self) -> dict:
        out = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in ENV_ONLY:
                value = "***" if value else ""
            elif field.name == "url":
                value = mask_url(value)
            out[field.name] = value
        return out


def mask_url(url: str) -> str:
    """The URL without its password (``redis://:***@host``)."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _sentinels(label: str, raw: str) -> tuple:
    out = []
    for item in (part.strip() for part in str(raw).split(",")):
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{label}: {item!r} is not host:port")
        out.append((host, int(port)))
    return tuple(out)


def load(env: dict | None = None, section: dict | None = None) -> StoreConfig:
    """Read and validate the settings; raise SettingError on a bad value."""
    env = os.environ if env is None else env
    section = dict(section or {})
    for secret in ENV_ONLY:
        if section.get(secret):
            raise ConfigError(
                f"[{SECTION}] {secret} is not read from the config file: "
                f"set {ENV_PREFIX}{secret.upper()} in the environment"
            )
    found = read_fields(
        StoreConfig,
        environ=env,
        env_prefix=ENV_PREFIX,
        section=section,
        section_name=SECTION,
        bounds=BOUNDS,
        skip=ENV_ONLY,
    )
    values = {name: value for name, (value, _source) in found.items()}
    url = values.get("url", "").strip()
    if url and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise refuse(
            found["url"][1], mask_url(url), "must use scheme redis, rediss or unix"
        )
    raw = resolve(
        environ=env,
        env=ENV_PREFIX + "SENTINELS",
        section=section,
        section_name=SECTION,
        keys=("sentinels",),
    )
    sentinels = _sentinels(raw[1], raw[0]) if raw else ()
    master = values.get("sentinel_master", "").strip()
    if sentinels and not master:
        raise ConfigError("PEAK_REDIS_SENTINELS needs PEAK_REDIS_SENTINEL_MASTER")
    if sentinels and url:
        raise ConfigError("set PEAK_REDIS_URL or PEAK_REDIS_SENTINELS, not both")
    prefix = values.get("prefix", DEFAULT_PREFIX)
    if not _PREFIX_RE.match(prefix):
        raise refuse(
            found["prefix"][1],
            prefix,
            "must be 1-64 characters among letters, digits and : _ . -",
        )
    values.update(url=url, sentinels=sentinels, sentinel_master=master)
    key_secret = env.get(ENV_PREFIX + "KEY_SECRET", "")
    if key_secret and len(key_secret) < MIN_KEY_SECRET_CHARS:
        raise ConfigError(
            f"env {ENV_PREFIX}KEY_SECRET is too short: "
            f"{MIN_KEY_SECRET_CHARS} characters or more (openssl rand -hex 32)"
        )
    secrets = {name: env.get(ENV_PREFIX + name.upper(), "") for name in ENV_ONLY}
    _check_access(found, values, secrets)
    return StoreConfig(**secrets, **values)


def _check_access(found: dict, values: dict, secrets: dict) -> None:
    """Credentials and TLS settings that cannot work together are refused
    here, not ignored (a CA file nobody uses would hide plain text). Without
    a store (no URL, no Sentinels: e.g. the upgrade Job) nothing connects."""
    url, sentinels = values["url"], values["sentinels"]
    if not (url or sentinels):
        return
    if secrets["sentinel_password"] and not sentinels:
        raise ConfigError("PEAK_REDIS_SENTINEL_PASSWORD needs PEAK_REDIS_SENTINELS")
    if values.get("sentinel_tls") and not sentinels:
        raise refuse(
            found["sentinel_tls"][1],
            True,
            "needs PEAK_REDIS_SENTINELS (with a URL, use rediss://)",
        )
    username = values.get("username", "").strip()
    if username:
        if not secrets["password"]:
            raise refuse(
                found["username"][1], username, "needs env PEAK_REDIS_PASSWORD"
            )
        if url and urlsplit(url).username:
            raise refuse(
                found["username"][1], username, "and a user in PEAK_REDIS_URL: one"
            )
    values["username"] = username
    ca_file = values.get("tls_ca_file", "").strip()
    if ca_file:
        tls = values.get("sentinel_tls") or urlsplit(url).scheme == "rediss"
        if not tls:
            raise refuse(
                found["tls_ca_file"][1],
                ca_file,
                "needs rediss:// in PEAK_REDIS_URL or PEAK_REDIS_SENTINEL_TLS=true",
            )
        if not os.path.isfile(ca_file) or not os.access(ca_file, os.R_OK):
            raise refuse(found["tls_ca_file"][1], ca_file, "is not a readable file")
    values["tls_ca_file"] = ca_file


def make_client(config: StoreConfig, timeout: float | None = None):
    """A redis-py client with bounded timeouts and no hidden retries, through
    the Sentinels when there are some: Odoo's sessions and the doctor's probe
    connect the same way. ``timeout`` overrides both timeouts (a probe)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    socket_timeout = timeout or config.socket_timeout
    connect_timeout = timeout or config.connect_timeout
    common = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
        "health_check_interval": 30,
        "client_name": "odoo-peak-sessions",
        # No CLIENT SETINFO: a tenant's ACL user grants only what the store
        # needs (k8s/components/shared-tenant).
        "lib_name": None,
        "lib_version": None,
    }
    if config.username:
        common["username"] = config.username
    if config.password:
        common["password"] = config.password
    tls = {"ssl_ca_certs": config.tls_ca_file} if config.tls_ca_file else {}
    if config.sentinels:
        from redis.sentinel import Sentinel

        if config.sentinel_tls:
            # Sentinels name the master by its host name: checked against
            # the certificate, as every address the client dials.
            tls.update(ssl=True, ssl_cert_reqs="required", ssl_check_hostname=True)
        sentinel_kwargs = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            **tls,
        }
        if config.sentinel_password:
            sentinel_kwargs["password"] = config.sentinel_password
        sentinel = Sentinel(
            list(config.sentinels), sentinel_kwargs=sentinel_kwargs, **common
        )
        return sentinel.master_for(config.sentinel_master, **common, **tls)
    if urlsplit(config.url).scheme != "rediss":
        tls = {}
    return redis.Redis.from_url(config.url, **common, **tls)
