"""Prometheus metrics of the governor and its HTTP endpoints.

:class:`GovernorMetrics` owns a private :class:`~prometheus_client.CollectorRegistry`
(never the global one, so tests and several instances do not collide).  The
main loop feeds it what it saw and decided::

    metrics = GovernorMetrics(["odoo"], dry_run=False)
    health = Health(["odoo"], interval=1.0)
    server = serve("0.0.0.0", 9187, metrics, health)
    while running:
        try:
            sample = sensor.sample("odoo")
        except psycopg.Error:
            metrics.observe_sample_error("odoo")
            health.set_ready("odoo", False)
        else:
            metrics.observe_sample(sample)
            health.set_ready("odoo", True)
            decision = policy.decide(sample)
            metrics.observe_decision("odoo", decision, leased_channels=len(leases))
        health.beat()
    server.shutdown()

Every metric is named ``peak_governor_*``, in base units (seconds), counters
end in ``_total``, and every label has a bounded set of values: ``database``
(the configured databases; anything else raises :class:`ValueError`),
``role`` (:data:`~peak_governor.attribution.ROLE_LABELS`), ``action``
(:data:`ACTIONS`), ``reason`` (:data:`REASONS`, anything else counts as
``other``) and ``version``.

:func:`serve` answers ``GET /metrics``, ``/healthz`` (the main loop beat
recently) and ``/readyz`` (the last cycle reached PostgreSQL for every
database) from a daemon thread.
"""

import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

from . import __version__
from .attribution import KIND_OTHER, ROLE_LABELS
from .model import LEVELS, Decision, Sample

_logger = logging.getLogger(__name__)

PREFIX = "peak_governor_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9187  # the port of the container images and manifests

#: Values of the ``action`` label of ``peak_governor_decisions_total``:
#: ``lease`` takes a lease, ``renew`` extends one already held (an action of
#: kind ``lease`` with reason ``renew``, or of kind ``renew``), ``release``
#: gives one back, ``preempt`` cancels a job's statement (opt-in); any other
#: kind counts as ``other``.
ACTIONS = ("lease", "renew", "release", "preempt", "other")

#: Values of the ``reason`` label of ``peak_governor_decisions_total``: the
#: reasons :mod:`peak_governor.policy` gives.  Any other reason counts as
#: ``other``: add it here when the policy grows a new one.
REASONS = (
    "blame",  # lease: the channel's jobs block waiting backends
    "fallback",  # lease: contention without a clear culprit
    "renew",  # lease: extend a lease already held
    "starvation_guard",  # lease: switch to (or start as) a trickle
    "hold",  # lease: kept while protected demand persists (calm)
    "pre_window_drain",  # lease: drained before a protected window opens
    "preempt",  # preempt: a blocking job's statement cancelled
    "calm",  # release: contention is over
    "peak_off",  # release: Peak mode switched off
    "unleasable",  # release: the channel cannot be leased any more
    "other",
)

#: ``peak_governor_contention_level`` value of each level (its index).
LEVEL_VALUES = {level: index for index, level in enumerate(LEVELS)}

#: Sample durations from 0.1 ms to 1 s (a sample is one or two small queries).
SAMPLE_DURATION_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


class GovernorMetrics:
    """The governor's metrics, in a registry of their own.

    ``databases`` is the configured set: every per-database series exists
    (at 0) from the start, and observing another database raises
    :class:`ValueError` (label values stay bounded by configuration).
    """

    def __init__(
        self,
        databases: Iterable[str],
        *,
        version: str = __version__,
        dry_run: bool = False,
    ):
        self.databases = tuple(dict.fromkeys(databases))
        if not self.databases:
            raise ValueError("GovernorMetrics needs at least one database")
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry

        self.lock_waiters = Gauge(
            PREFIX + "lock_waiters",
            "Backends waiting on a heavyweight lock at the last sample, by role "
            "of the waiting backend (" + ", ".join(ROLE_LABELS) + ").",
            ["database", "role"],
            registry=reg,
        )
        self.longest_wait_seconds = Gauge(
            PREFIX + "longest_wait_seconds",
            "Longest current lock wait at the last sample (0 when none waits).",
            ["database"],
            registry=reg,
        )
        self.contention_level = Gauge(
            PREFIX + "contention_level",
            "Contention level of the last decision: "
            + ", ".join(f"{value} {level}" for level, value in LEVEL_VALUES.items())
            + ".",
            ["database"],
            registry=reg,
        )
        self.decisions = Counter(
            PREFIX + "decisions",
            "Actions decided by the policy, by action ("
            + ", ".join(ACTIONS)
            + ") and reason (unknown reasons count as other).",
            ["database", "action", "reason"],
            registry=reg,
        )
        self.leased_channels = Gauge(
            PREFIX + "leased_channels",
            "Channels this governor holds a pause lease on after the last cycle.",
            ["database"],
            registry=reg,
        )
        self.sample_duration_seconds = Histogram(
            PREFIX + "sample_duration_seconds",
            "Time the lock contention sample queries took.",
            ["database"],
            buckets=SAMPLE_DURATION_BUCKETS,
            registry=reg,
        )
        self.samples = Counter(
            PREFIX + "samples",
            "Lock contention samples taken.",
            ["database"],
            registry=reg,
        )
        self.sample_errors = Counter(
            PREFIX + "sample_errors",
            "Samples that failed (PostgreSQL unreachable, query error).",
            ["database"],
            registry=reg,
        )
        self.deadlocks = Counter(
            PREFIX + "deadlocks",
            "Deadlocks PostgreSQL reported (pg_stat_database.deadlocks) "
            "while the governor watched.",
            ["database"],
            registry=reg,
        )
        self.leader = Gauge(
            PREFIX + "leader",
            "1 when this governor is the leader for the database, else 0.",
            ["database"],
            registry=reg,
        )
        self.dry_run = Gauge(
            PREFIX + "dry_run",
            "1 when the governor only logs what it would do, else 0.",
            registry=reg,
        )
        self.build_info = Gauge(
            PREFIX + "build_info",
            "Always 1; the version label says which governor runs.",
            ["version"],
            registry=reg,
        )

        self.build_info.labels(version=version).set(1)
        self.set_dry_run(dry_run)
        for db in self.databases:
            for role in ROLE_LABELS:
                self.lock_waiters.labels(database=db, role=role)
            for metric in (
                self.longest_wait_seconds,
                self.contention_level,
                self.leased_channels,
                self.sample_duration_seconds,
                self.samples,
                self.sample_errors,
                self.deadlocks,
                self.leader,
            ):
                metric.labels(database=db)

    def _check(self, database: str) -> str:
        if database not in self.databases:
            raise ValueError(
                f"database {database!r} is not configured "
                f"(known: {', '.join(self.databases)})"
            )
        return database

    def observe_sample(self, sample: Sample) -> None:
        """Record one successful sample of ``sample.database``.

        Every role is set (absent roles to 0); a role label outside
        :data:`~peak_governor.attribution.ROLE_LABELS` counts as ``other``.
        A negative ``deadlocks_delta`` (statistics reset) adds nothing.
        """
        db = self._check(sample.database)
        counts = dict.fromkeys(ROLE_LABELS, 0)
        longest = 0.0
        for waiter in sample.waiters:
            label = waiter.backend.role_label
            counts[label if label in counts else KIND_OTHER] += 1
            longest = max(longest, waiter.wait_seconds)
        for role, count in counts.items():
            self.lock_waiters.labels(database=db, role=role).set(count)
        self.longest_wait_seconds.labels(database=db).set(longest)
        self.sample_duration_seconds.labels(database=db).observe(
            max(sample.duration_seconds, 0.0)
        )
        self.samples.labels(database=db).inc()
        if sample.deadlocks_delta > 0:
            self.deadlocks.labels(database=db).inc(sample.deadlocks_delta)

    def observe_sample_error(self, database: str) -> None:
        """Record a sample of ``database`` that failed."""
        self.sample_errors.labels(database=self._check(database)).inc()

    def observe_decision(
        self, database: str, decision: Decision, leased_channels: int
    ) -> None:
        """Record the policy's decision and the leases held after acting on it.

        Sets the contention level and ``leased_channels``, and counts each
        action once in ``peak_governor_decisions_total`` (see
        :data:`ACTIONS` and :data:`REASONS` for the label values).
        """
        db = self._check(database)
        level = LEVEL_VALUES.get(decision.level)
        if level is None:
            _logger.warning(
                "unknown contention level %r: gauge left unchanged", decision.level
            )
        else:
            self.contention_level.labels(database=db).set(level)
        for action in decision.actions:
            kind = action.kind if action.kind in ACTIONS else "other"
            if kind == "lease" and action.reason == "renew":
                kind = "renew"
            reason = action.reason if action.reason in REASONS else "other"
            self.decisions.labels(database=db, action=kind, reason=reason).inc()
        self.leased_channels.labels(database=db).set(max(leased_channels, 0))

    def set_leader(self, database: str, is_leader: bool) -> None:
        """Whether this governor leads ``database``."""
        self.leader.labels(database=self._check(database)).set(1 if is_leader else 0)

    def set_dry_run(self, dry_run: bool) -> None:
        self.dry_run.set(1 if dry_run else 0)

    def render(self) -> bytes:
        """The Prometheus text exposition (format 0.0.4) of every metric.

        The ``*_created`` series prometheus_client adds to counters and
        histograms are left out: they double the series for no use here.
        """
        return generate_latest(_WithoutCreated(self.registry))


class _WithoutCreated:
    """A collector view of a registry without the ``_created`` samples."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        for metric in self.registry.collect():
            created = metric.name + "_created"
            copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            copy.samples = [s for s in metric.samples if s.name != created]
            yield copy


class Health:
    """Liveness and readiness, shared by the main loop and the HTTP threads.

    Alive while the loop called :meth:`beat` less than ``stale_after``
    seconds ago (default ``3 * interval``; creating the object counts as a
    beat).  Ready while alive and the last :meth:`set_ready` of every
    configured database said True (none is ready before its first cycle).
    ``clock`` is monotonic seconds; tests inject their own.
    """

    def __init__(
        self,
        databases: Iterable[str],
        interval: float = 1.0,
        *,
        stale_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.stale_after = 3 * interval if stale_after is None else stale_after
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()
        self._ready = dict.fromkeys(databases, False)
        if not self._ready:
            raise ValueError("Health needs at least one database")

    def beat(self) -> None:
        """Called by the main loop once per cycle."""
        now = self._clock()
        with self._lock:
            self._last_beat = now

    def since_beat(self) -> float:
        """Seconds since the last beat."""
        with self._lock:
            last = self._last_beat
        return self._clock() - last

    def alive(self) -> bool:
        return self.since_beat() < self.stale_after

    def set_ready(self, database: str, ready: bool) -> None:
        """Whether the last cycle reached PostgreSQL for ``database``."""
        with self._lock:
            if database not in self._ready:
                raise ValueError(f"database {database!r} is not configured")
            self._ready[database] = bool(ready)

    def not_ready(self) -> list[str]:
        """Configured databases the last cycle could not reach, sorted."""
        with self._lock:
            return sorted(db for db, ok in self._ready.items() if not ok)

    def ready(self) -> bool:
        return self.alive() and not self.not_ready()


class _Handler(BaseHTTPRequestHandler):
    """``GET /metrics``, ``/healthz``, ``/readyz``; 404 elsewhere, 405 if not GET."""

    server: "MetricsServer"
    server_version = "peak-governor"
    sys_version = ""
    timeout = 10  # seconds a slow client may hold a thread

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/metrics":
            try:
                body = self.server.metrics.render()
            except Exception:
                _logger.exception("rendering /metrics failed")
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"error\n")
                return
            self._send(HTTPStatus.OK, body, CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._healthz()
        elif path == "/readyz":
            self._readyz()
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")

    def _healthz(self):
        health = self.server.health
        since = health.since_beat()
        if since < health.stale_after:
            self._send(HTTPStatus.OK, b"ok\n")
        else:
            body = f"stale: main loop silent for {since:.1f} s\n".encode()
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, body)

    def _readyz(self):
        health = self.server.health
        not_ready = health.not_ready()
        alive = health.alive()
        if alive and not not_ready:
            self._send(HTTPStatus.OK, b"ok\n")
            return
        report = {"ready": False, "not_ready": not_ready}
        if not alive:
            report["stale"] = True
        body = (json.dumps(report, separators=(",", ":")) + "\n").encode()
        self._send(HTTPStatus.SERVICE_UNAVAILABLE, body, "application/json")

    def _method_not_allowed(self):
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            b"method not allowed\n",
            headers={"Allow": "GET"},
        )

    def __getattr__(self, name):
        # BaseHTTPRequestHandler dispatches to do_<METHOD> and answers 501
        # when missing: every method but GET gets a 405 instead.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
        """No access log: Prometheus and the probes would flood stderr."""


class MetricsServer(ThreadingHTTPServer):
    """The HTTP server :func:`serve` returns, running in a daemon thread.

    ``server_port`` is the bound port (useful with port 0);
    :meth:`shutdown` stops serving, closes the socket and returns within
    about half a second.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, address, metrics: GovernorMetrics, health: Health):
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.metrics = metrics
        self.health = health
        self._thread: threading.Thread | None = None
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host's FQDN, which can hang on
        # DNS for 0.0.0.0 in containers; it is only used in CGI variables.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="peak-governor-http",
            daemon=True,
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            super().shutdown()
            self._thread.join(timeout=1.0)
            self._thread = None
        self.server_close()


def serve(
    host: str | None, port: int, metrics: GovernorMetrics, health: Health
) -> MetricsServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` from a daemon thread.

    ``host`` None or empty binds to :data:`DEFAULT_HOST` (loopback; the CLI
    passes ``0.0.0.0`` in containers).  ``port`` 0 picks a free port (read
    it from ``server.server_port``).  Stop with ``server.shutdown()``.
    """
    server = MetricsServer((host or DEFAULT_HOST, port), metrics, health)
    server.start()
    return server
