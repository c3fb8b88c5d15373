"""Settings of the governor: flags > env PEAK_GOVERNOR_* > Odoo > defaults.

"Odoo" means the system parameters ``peak_governor.<name>`` of the governed
database (Settings > Technical > System Parameters), read once at start. Every
policy threshold has the three spellings, generated from
:class:`~peak_governor.policy.PolicyConfig`::

    --protected-elevated-enter-age 0.3
    PEAK_GOVERNOR_PROTECTED_ELEVATED_ENTER_AGE=0.3
    peak_governor.protected_elevated_enter_age = 0.3

A bad value anywhere is a :class:`ConfigError` (``peak_settings``' one error
format, ``env PEAK_GOVERNOR_INTERVAL='fast' is not a number``): the CLI prints
its one line and exits with code 2. Values are read and converted by the
project's one settings reader, :mod:`peak_settings.reader`.
"""

import dataclasses
import os
import re
import socket
from dataclasses import dataclass, field

from peak_settings import SettingError, convert, is_empty

from .policy import PROFILE_NAMES, PolicyConfig, with_profile

ENV_PREFIX = "PEAK_GOVERNOR_"
ODOO_PREFIX = "peak_governor."
_DB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")


#: A setting has a value the governor cannot run with (one error type for all).
ConfigError = SettingError


@dataclass(frozen=True)
class Config:
    dsn: str
    databases: tuple[str, ...]
    interval: float = 1.0
    lease_ttl: int = 60
    leader_ttl: int = 30
    dry_run: bool = False
    once: bool = False
    http_host: str = "127.0.0.1"
    http_port: int = 9187
    allow_superuser: bool = False
    instance_id: str = field(
        default_factory=lambda: f"{socket.gethostname()[:100]}:{os.getpid()}"
    )
    log_level: str = "INFO"
    log_format: str = "json"
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def validate(self) -> "Config":
        if not self.databases:
            raise ConfigError(
                "no database to govern: set --database or a dbname in the DSN"
            )
        for name in self.databases:
            if not _DB_NAME.fullmatch(name):
                raise ConfigError(f"database name {name!r} is not valid")
        if not 0.05 <= self.interval <= 60:
            raise ConfigError(
                f"interval must be between 0.05 and 60 s, got {self.interval}"
            )
        if not 5 <= self.lease_ttl <= 3600:
            raise ConfigError(
                f"lease ttl must be between 5 and 3600 s, got {self.lease_ttl}"
            )
        if not 2 <= self.leader_ttl <= 600:
            raise ConfigError(
                f"leader ttl must be between 2 and 600 s, got {self.leader_ttl}"
            )
        if self.leader_ttl <= 2 * self.interval:
            raise ConfigError("leader ttl must be more than twice the interval")
        if not 0 <= self.http_port < 65536:
            raise ConfigError(f"http port {self.http_port} is not a TCP port")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"log level {self.log_level!r} is not DEBUG/INFO/WARNING/ERROR"
            )
        if self.log_format not in ("json", "text"):
            raise ConfigError(f"log format {self.log_format!r} is not json or text")
        if not 1 <= len(self.instance_id) <= 128:
            raise ConfigError("instance id must be 1 to 128 characters")
        try:
            self.policy.validate()
        except ValueError as exc:
            raise ConfigError(f"policy: {exc}") from exc
        return self


def policy_fields(default=None, prefix="") -> dict[str, tuple[tuple[str, ...], type]]:
    """Flat names of every policy setting, from the defaults' shape:
    ``{"protected_elevated_enter_age": (("protected", "elevated_enter_age"),
    float), ...}``."""
    default = PolicyConfig() if default is None else default
    out = {}
    for f in dataclasses.fields(default):
        value = getattr(default, f.name)
        if dataclasses.is_dataclass(value):
            for name, (path, kind) in policy_fields(value, f"{f.name}_").items():
                out[name] = ((f.name, *path), kind)
        elif isinstance(value, bool | int | float | str):
            out[prefix + f.name] = ((f.name,), type(value))
    return out


def apply_policy_settings(policy: PolicyConfig, values: dict[str, tuple[str, object]]):
    """Return ``policy`` with ``{flat_name: (source, raw value)}`` applied."""
    known = policy_fields()
    if "profile" in values:
        # A profile sets defaults: explicit settings, applied after it, win.
        source, raw = values["profile"]
        name = convert(str(raw).strip(), str, source, choices=PROFILE_NAMES)
        policy = with_profile(policy, name)
    for name, (source, raw) in values.items():
        if name == "profile":
            continue
        if name not in known:
            raise ConfigError(f"{source} is not a governor setting")
        path, kind = known[name]
        value = convert(raw, kind, source)
        if len(path) == 1:
            policy = dataclasses.replace(policy, **{path[0]: value})
        else:
            inner = dataclasses.replace(getattr(policy, path[0]), **{path[1]: value})
            policy = dataclasses.replace(policy, **{path[0]: inner})
    return policy


def env_settings(environ=os.environ) -> dict[str, tuple[str, str]]:
    names = policy_fields()
    out = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in names and not is_empty(value):
                out[name] = (f"env {key}", value)
    return out


def odoo_settings(rows) -> dict[str, tuple[str, str]]:
    """``(key, value)`` rows of ``ir_config_parameter`` → policy settings."""
    out = {}
    for key, value in rows:
        name = key[len(ODOO_PREFIX) :]
        # Odoo's Settings store an empty number field as 0: the default then.
        if str(value).strip() in ("", "0", "0.0", "False"):
            continue
        out[name] = (f"Odoo parameter {key}", value)
    return out
