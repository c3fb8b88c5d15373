# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings of the Redis session store: env ``PEAK_REDIS_*`` > the
``[peak_session_redis]`` section of the Odoo config file > defaults.

Pure Python (no Odoo import) so it is tested without a database.
The password is read from the environment only, never from the file.
"""

import os
import re
from dataclasses import dataclass, fields
from urllib.parse import urlsplit, urlunsplit

SECTION = "peak_session_redis"
DEFAULT_PREFIX = "peak:session:"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9:_.-]{1,64}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting has a value the store cannot work with."""


@dataclass(frozen=True)
class StoreConfig:
    url: str = ""
    sentinels: tuple = ()  # ((host, port), ...)
    sentinel_master: str = ""
    password: str = ""
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
            if field.name == "password":
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


def _pick(name: str, env: dict, section: dict, default):
    env_name = f"PEAK_REDIS_{name.upper()}"
    if env.get(env_name) is not None:
        return env_name, env[env_name]
    if section.get(name) is not None:
        return f"[{SECTION}] {name}", section[name]
    return env_name, default


def _number(label: str, raw, low: float, high: float, cast=float):
    try:
        value = cast(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{label}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{label}={raw!r} must be between {low} and {high}")
    return value


def _flag(label: str, raw) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{label}={raw!r} must be true or false")


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
    """Read and validate the settings; raise ConfigError on a bad value."""
    env = os.environ if env is None else env
    section = dict(section or {})
    if section.get("password"):
        raise ConfigError(
            f"[{SECTION}] password is not read from the config file: "
            "set PEAK_REDIS_PASSWORD in the environment"
        )
    label, url = _pick("url", env, section, "")
    url = str(url).strip()
    if url and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"{label}={mask_url(url)!r}: scheme must be redis, rediss or unix"
        )
    label, raw = _pick("sentinels", env, section, "")
    sentinels = _sentinels(label, raw)
    _label, master = _pick("sentinel_master", env, section, "")
    master = str(master).strip()
    if sentinels and not master:
        raise ConfigError("PEAK_REDIS_SENTINELS needs PEAK_REDIS_SENTINEL_MASTER")
    if sentinels and url:
        raise ConfigError("set PEAK_REDIS_URL or PEAK_REDIS_SENTINELS, not both")
    label, prefix = _pick("prefix", env, section, DEFAULT_PREFIX)
    if not _PREFIX_RE.match(str(prefix)):
        raise ConfigError(
            f"{label}={prefix!r}: 1-64 characters among letters, digits and : _ . -"
        )
    numbers = {}
    for name, default, low, high, cast in (
        ("socket_timeout", 1.0, 0.05, 30, float),
        ("connect_timeout", 1.0, 0.05, 30, float),
        ("anonymous_ttl", 3 * 3600, 60, 30 * 86400, int),
        ("retry_interval", 2.0, 0.1, 300, float),
    ):
        label, raw = _pick(name, env, section, default)
        numbers[name] = _number(label, raw, low, high, cast)
    label, raw = _pick("migrate_filesystem", env, section, True)
    return StoreConfig(
        url=url,
        sentinels=sentinels,
        sentinel_master=master,
        password=env.get("PEAK_REDIS_PASSWORD", ""),
        prefix=str(prefix),
        migrate_filesystem=_flag(label, raw),
        **numbers,
    )
