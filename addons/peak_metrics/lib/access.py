# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Who may scrape ``/metrics``: allow-list first, then the bearer token."""

import hmac
import ipaddress
from dataclasses import dataclass

DISABLED_MESSAGE = "metrics disabled: set PEAK_METRICS_TOKEN"


@dataclass(frozen=True)
class Decision:
    status: int  # 200, 401 or 403
    message: str


def peer_address(environ) -> str | None:
    """The address of the TCP peer. Under ``proxy_mode`` Odoo rewrites
    ``REMOTE_ADDR`` from ``X-Forwarded-For``, which anyone reaching the port
    directly can write: the allow-list reads the address werkzeug's ProxyFix
    kept aside instead (Prometheus scrapes Odoo directly, not through the
    edge)."""
    original = environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or environ.get("REMOTE_ADDR")


def check(config, authorization: str | None, remote_addr: str | None) -> Decision:
    """200 when allowed; 403 without a configured token or from an address
    outside the allow-list; 401 for a missing or wrong token."""
    if not config.token:
        return Decision(403, DISABLED_MESSAGE)
    if config.allow:
        try:
            address = ipaddress.ip_address(remote_addr or "")
        except ValueError:
            return Decision(403, "forbidden: unknown client address")
        if not any(address in network for network in config.allow):
            return Decision(403, "forbidden: address not in PEAK_METRICS_ALLOW")
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return Decision(401, "unauthorized: send Authorization: Bearer <token>")
    # Constant time: the comparison leaks neither the token nor its length.
    if not hmac.compare_digest(
        presented.strip().encode("utf-8"), config.token.encode("utf-8")
    ):
        return Decision(401, "unauthorized: wrong token")
    return Decision(200, "ok")
