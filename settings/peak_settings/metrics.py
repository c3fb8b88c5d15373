"""Settings of ``/metrics`` (addon ``peak_metrics``): env ``PEAK_METRICS_*`` >
``[peak_metrics]`` > default.

Shared with ``peak-governor doctor``, which scrapes with the token Odoo checks.
"""

import ipaddress
import re
from dataclasses import dataclass, field

from .reader import SettingError, convert, refuse, resolve

SECTION = "peak_metrics"
ENV_PREFIX = "PEAK_METRICS_"
DEFAULT_CACHE_SECONDS = 10.0
DEFAULT_STATEMENT_TIMEOUT_MS = 2000
DEFAULT_INTEGRATION_CHANNELS = ("root.edi", "root.marketplace")
MIN_TOKEN_LENGTH = 16
_CHANNEL_RE = re.compile(r"^root(\.[A-Za-z0-9_-]+)*$")
MetricsConfigError = SettingError


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


def parse_allow(raw: str, source: str = "allow") -> tuple:
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise refuse(
                source, raw, f"has {item!r}, not an IP address or CIDR network"
            ) from exc
    return tuple(networks)


def load(environ, section) -> MetricsConfig:
    """The effective settings; raise SettingError on a bad value."""
    sources: dict = {}

    def pick(key):
        found = resolve(
            environ=environ,
            env=ENV_PREFIX + key.upper(),
            section=section or {},
            section_name=SECTION,
            keys=(key,),
        )
        if found is None:
            sources[key] = "default"
        else:
            sources[key] = "env" if found[1].startswith("env ") else "config"
        return found

    values: dict = {}
    found = pick("token")
    if found:
        values["token"] = str(found[0]).strip()
        if len(values["token"]) < MIN_TOKEN_LENGTH:
            # The token itself never goes into a message.
            raise SettingError(
                f"{found[1]}: at least {MIN_TOKEN_LENGTH} characters (a guessable "
                "token protects nothing)"
            )
    found = pick("allow")
    if found:
        values["allow"] = parse_allow(str(found[0]), found[1])
    for key, kind, low, high in (
        ("cache_seconds", float, 0.0, 3600.0),
        ("statement_timeout_ms", int, 50, 60000),
    ):
        found = pick(key)
        if found:
            values[key] = convert(found[0], kind, found[1], low=low, high=high)
    found = pick("integration_channels")
    if found:
        channels = tuple(c.strip() for c in str(found[0]).split(",") if c.strip())
        bad = [c for c in channels if not _CHANNEL_RE.match(c)]
        if bad:
            raise refuse(
                found[1], found[0], f"has {', '.join(bad)}: not a channel (root.a.b)"
            )
        values["integration_channels"] = channels
    return MetricsConfig(sources=sources, **values)
