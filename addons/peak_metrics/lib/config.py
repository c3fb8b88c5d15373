# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings of ``/metrics``: env ``PEAK_METRICS_*`` > ``[peak_metrics]`` > default.

Pure module: ``load(environ, section)`` takes the environment and the Odoo
config section as plain mappings, so it is tested without Odoo.
"""

import ipaddress
import re
from dataclasses import dataclass, field

ENV_PREFIX = "PEAK_METRICS_"
DEFAULT_CACHE_SECONDS = 10.0
DEFAULT_STATEMENT_TIMEOUT_MS = 2000
DEFAULT_INTEGRATION_CHANNELS = ("root.edi", "root.marketplace")
MIN_TOKEN_LENGTH = 16
_CHANNEL_RE = re.compile(r"^root(\.[A-Za-z0-9_-]+)*$")


class MetricsConfigError(ValueError):
    """A peak_metrics setting has a value that cannot work."""


@dataclass(frozen=True)
class MetricsConfig:
    token: str = ""
    allow: tuple = ()  # ipaddress networks; empty: any address
    cache_seconds: float = DEFAULT_CACHE_SECONDS
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    integration_channels: tuple = DEFAULT_INTEGRATION_CHANNELS
    sources: dict = field(default_factory=dict, compare=False)

    def masked(self) -> dict:
        """The effective settings, printable: the token is never shown."""
        return {
            "token": "***" if self.token else "(unset: /metrics answers 403)",
            "allow": ",".join(str(net) for net in self.allow) or "(any)",
            "cache_seconds": self.cache_seconds,
            "statement_timeout_ms": self.statement_timeout_ms,
            "integration_channels": ",".join(self.integration_channels),
        }


def _pick(environ, section, key, sources):
    env_key = ENV_PREFIX + key.upper()
    if environ.get(env_key, "") != "":
        sources[key] = "env"
        return environ[env_key]
    if section.get(key, "") not in ("", None):
        sources[key] = "config"
        return str(section[key])
    sources[key] = "default"
    return None


def parse_allow(raw: str) -> tuple:
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise MetricsConfigError(
                f"allow: {item!r} is not an IP address or CIDR network ({exc})"
            ) from exc
    return tuple(networks)


def _number(raw, key, minimum, maximum, kind):
    try:
        value = kind(raw)
    except ValueError as exc:
        raise MetricsConfigError(f"{key}={raw!r} is not a number") from exc
    if not minimum <= value <= maximum:
        raise MetricsConfigError(
            f"{key}={raw!r} must be between {minimum} and {maximum}"
        )
    return value


def load(environ, section) -> MetricsConfig:
    """The effective settings; raise MetricsConfigError on a bad value."""
    sources: dict = {}
    token = _pick(environ, section, "token", sources) or ""
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise MetricsConfigError(
            f"token: at least {MIN_TOKEN_LENGTH} characters (a guessable token "
            "protects nothing)"
        )
    allow_raw = _pick(environ, section, "allow", sources) or ""
    cache_raw = _pick(environ, section, "cache_seconds", sources)
    timeout_raw = _pick(environ, section, "statement_timeout_ms", sources)
    channels_raw = _pick(environ, section, "integration_channels", sources)
    channels = DEFAULT_INTEGRATION_CHANNELS
    if channels_raw is not None:
        channels = tuple(c.strip() for c in channels_raw.split(",") if c.strip())
        bad = [c for c in channels if not _CHANNEL_RE.match(c)]
        if bad:
            raise MetricsConfigError(
                f"integration_channels: {', '.join(bad)} not a channel name "
                "(root.a.b)"
            )
    return MetricsConfig(
        token=token,
        allow=parse_allow(allow_raw),
        cache_seconds=(
            DEFAULT_CACHE_SECONDS
            if cache_raw is None
            else _number(cache_raw, "cache_seconds", 0.0, 3600.0, float)
        ),
        statement_timeout_ms=(
            DEFAULT_STATEMENT_TIMEOUT_MS
            if timeout_raw is None
            else _number(timeout_raw, "statement_timeout_ms", 50, 60000, int)
        ),
        integration_channels=channels,
        sources=sources,
    )
