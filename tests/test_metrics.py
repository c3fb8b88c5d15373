"""Observability of the governor: Prometheus metrics, HTTP endpoints, JSON logs.

No PostgreSQL here: samples and decisions are built by hand, the HTTP server
runs on a free loopback port and the health clock is injected.
"""

import http.client
import json
import logging
import math
import re
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from peak_governor import __version__
from peak_governor.attribution import OTHER, ROLE_LABELS, Role
from peak_governor.logs import configure_logging, mask
from peak_governor.metrics import (
    ACTIONS,
    REASONS,
    GovernorMetrics,
    Health,
    serve,
)
from peak_governor.model import Action, Backend, Decision, Sample, Waiter

DB = "odoo"
DB2 = "odoo_eu"

EXPECTED_FAMILIES = {
    "peak_governor_lock_waiters": "gauge",
    "peak_governor_longest_wait_seconds": "gauge",
    "peak_governor_contention_level": "gauge",
    "peak_governor_decisions": "counter",
    "peak_governor_leased_channels": "gauge",
    "peak_governor_sample_duration_seconds": "histogram",
    "peak_governor_samples": "counter",
    "peak_governor_sample_errors": "counter",
    "peak_governor_deadlocks": "counter",
    "peak_governor_leader": "gauge",
    "peak_governor_dry_run": "gauge",
    "peak_governor_build_info": "gauge",
}


# --- builders ------------------------------------------------------------------


def _role(label: str) -> Role:
    if label == "interactive":
        return Role(kind="interactive", label="web")
    if label == "cron":
        return Role(kind="cron", cron_id=7, label="mail")
    if label in ("critical", "operational", "background", "bulk"):
        return Role(kind="job", priority_class=label, channel=f"root.{label}")
    return OTHER


def waiter(label: str, wait_seconds: float = 1.0, pid: int = 100) -> Waiter:
    backend = Backend(
        pid=pid,
        role=_role(label),
        role_label=label,
        state="active",
        query_seconds=wait_seconds,
    )
    return Waiter(backend=backend, wait_seconds=wait_seconds, blocker_pids=(1,))


def sample(
    *waiters: Waiter,
    database: str = DB,
    deadlocks_delta: int = 0,
    duration: float = 0.002,
) -> Sample:
    return Sample(
        database=database,
        taken_at=time.time(),
        waiters=waiters,
        blockers={},
        deadlocks_total=max(deadlocks_delta, 0),
        deadlocks_delta=deadlocks_delta,
        duration_seconds=duration,
    )


def decision(level: str, *actions: Action) -> Decision:
    return Decision(
        level=level,
        previous_level="calm",
        protected=True,
        acting=True,
        actions=actions,
        explanation="built by hand",
    )


def families(metrics: GovernorMetrics) -> dict:
    text = metrics.render().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(metrics: GovernorMetrics, name: str, **labels) -> float | None:
    """The value of the sample ``name`` with exactly ``labels``, else None."""
    text = metrics.render().decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


@pytest.fixture
def metrics():
    return GovernorMetrics([DB, DB2])


# --- metrics -------------------------------------------------------------------


def test_exposition_names_types_and_units(metrics):
    metrics.observe_sample(sample(waiter("bulk")))
    metrics.observe_sample_error(DB)
    metrics.observe_decision(DB, decision("elevated", Action("lease", "a", "blame")), 1)
    found = families(metrics)
    assert {name: f.type for name, f in found.items()} == EXPECTED_FAMILIES
    for name, family in found.items():
        assert name.startswith("peak_governor_")
        assert family.documentation
        for s in family.samples:
            assert s.name.startswith("peak_governor_")
            assert not s.name.endswith("_created")
            if family.type == "counter":
                assert s.name.endswith("_total"), s.name
    text = metrics.render().decode()
    assert "# TYPE peak_governor_samples_total counter" in text


def test_series_exist_at_zero_before_any_observation(metrics):
    for db in (DB, DB2):
        for role in ROLE_LABELS:
            waiters = value(
                metrics, "peak_governor_lock_waiters", database=db, role=role
            )
            assert waiters == 0, role
        for name in (
            "peak_governor_samples_total",
            "peak_governor_sample_errors_total",
            "peak_governor_deadlocks_total",
            "peak_governor_leader",
            "peak_governor_leased_channels",
        ):
            assert value(metrics, name, database=db) == 0, name


def test_lock_waiters_by_role_and_absent_roles_back_to_zero(metrics):
    metrics.observe_sample(
        sample(
            waiter("interactive", 0.5, pid=1),
            waiter("interactive", 4.25, pid=2),
            waiter("bulk", 1.0, pid=3),
            waiter("made-up-role", 2.0, pid=4),
        )
    )
    waiters = {
        s.labels["role"]: s.value
        for s in families(metrics)["peak_governor_lock_waiters"].samples
        if s.labels["database"] == DB
    }
    assert set(waiters) == set(ROLE_LABELS)
    assert waiters == {
        **dict.fromkeys(ROLE_LABELS, 0.0),
        "interactive": 2.0,
        "bulk": 1.0,
        "other": 1.0,
    }
    assert value(metrics, "peak_governor_longest_wait_seconds", database=DB) == 4.25

    metrics.observe_sample(sample(waiter("cron", 0.75)))
    waiters = {
        s.labels["role"]: s.value
        for s in families(metrics)["peak_governor_lock_waiters"].samples
        if s.labels["database"] == DB
    }
    assert waiters == {**dict.fromkeys(ROLE_LABELS, 0.0), "cron": 1.0}
    assert value(metrics, "peak_governor_longest_wait_seconds", database=DB) == 0.75

    metrics.observe_sample(sample())
    assert value(metrics, "peak_governor_longest_wait_seconds", database=DB) == 0
    assert value(metrics, "peak_governor_lock_waiters", database=DB, role="cron") == 0


def test_samples_durations_and_deadlocks(metrics):
    metrics.observe_sample(sample(duration=0.0002, deadlocks_delta=2))
    metrics.observe_sample(sample(duration=0.3, deadlocks_delta=0))
    metrics.observe_sample(sample(duration=0.004, deadlocks_delta=-5))  # stats reset
    metrics.observe_sample(sample(database=DB2, duration=0.001, deadlocks_delta=1))
    assert value(metrics, "peak_governor_samples_total", database=DB) == 3
    assert value(metrics, "peak_governor_samples_total", database=DB2) == 1
    assert value(metrics, "peak_governor_deadlocks_total", database=DB) == 2
    assert value(metrics, "peak_governor_deadlocks_total", database=DB2) == 1

    hist = "peak_governor_sample_duration_seconds"
    assert value(metrics, hist + "_count", database=DB) == 3
    assert value(metrics, hist + "_sum", database=DB) == pytest.approx(0.3042)
    buckets = {
        float(s.labels["le"]): s.value
        for s in families(metrics)[hist].samples
        if s.name == hist + "_bucket" and s.labels["database"] == DB
    }
    assert min(buckets) == pytest.approx(0.0001)
    assert max(b for b in buckets if b != math.inf) == 1.0
    assert buckets[0.00025] == 1
    assert buckets[0.0025] == 1
    assert buckets[0.005] == 2
    assert buckets[0.25] == 2
    assert buckets[0.5] == 3
    assert buckets[math.inf] == 3


def test_sample_errors_per_database(metrics):
    metrics.observe_sample_error(DB2)
    metrics.observe_sample_error(DB2)
    assert value(metrics, "peak_governor_sample_errors_total", database=DB2) == 2
    assert value(metrics, "peak_governor_sample_errors_total", database=DB) == 0
    assert value(metrics, "peak_governor_samples_total", database=DB2) == 0


def test_unconfigured_database_is_refused(metrics):
    with pytest.raises(ValueError, match="not configured"):
        metrics.observe_sample(sample(database="elsewhere"))
    with pytest.raises(ValueError, match="not configured"):
        metrics.observe_sample_error("elsewhere")
    with pytest.raises(ValueError, match="not configured"):
        metrics.observe_decision("elsewhere", decision("calm"), 0)
    with pytest.raises(ValueError, match="not configured"):
        metrics.set_leader("elsewhere", True)
    databases = {
        s.labels["database"]
        for family in families(metrics).values()
        for s in family.samples
        if "database" in s.labels
    }
    assert databases == {DB, DB2}


def test_decisions_counted_with_bounded_labels(metrics):
    metrics.observe_decision(
        DB,
        decision(
            "severe",
            Action("lease", "root.bulk", "blame", {"pids": [1]}),
            Action("lease", "root.background", "starvation_guard", trickle=True),
            Action("lease", "root.sync", "renew"),
            Action("lease", "root.x", "a free-text reason with pid 4242"),
            Action("detonate", "root.y", "blame"),
        ),
        leased_channels=3,
    )
    metrics.observe_decision(
        DB, decision("calm", Action("release", "root.bulk", "calm")), 2
    )
    counts = {
        (s.labels["action"], s.labels["reason"]): s.value
        for s in families(metrics)["peak_governor_decisions"].samples
        if s.labels["database"] == DB
    }
    assert counts == {
        ("lease", "blame"): 1,
        ("lease", "starvation_guard"): 1,
        ("renew", "renew"): 1,
        ("lease", "other"): 1,
        ("other", "blame"): 1,
        ("release", "calm"): 1,
    }
    for action, reason in counts:
        assert action in ACTIONS
        assert reason in REASONS
    assert value(metrics, "peak_governor_leased_channels", database=DB) == 2
    assert value(metrics, "peak_governor_leased_channels", database=DB2) == 0


def test_contention_level_mapping_is_numeric_and_documented(metrics):
    found = {}
    for level in ("calm", "elevated", "severe"):
        metrics.observe_decision(DB, decision(level), 0)
        found[level] = value(metrics, "peak_governor_contention_level", database=DB)
    assert found == {"calm": 0, "elevated": 1, "severe": 2}
    help_text = families(metrics)["peak_governor_contention_level"].documentation
    assert "0 calm, 1 elevated, 2 severe" in help_text
    metrics.observe_decision(DB, decision("apocalyptic"), 0)  # logged, unchanged
    assert value(metrics, "peak_governor_contention_level", database=DB) == 2


def test_leader_dry_run_and_build_info():
    metrics = GovernorMetrics([DB], dry_run=True)
    assert value(metrics, "peak_governor_dry_run") == 1
    assert value(metrics, "peak_governor_leader", database=DB) == 0
    assert value(metrics, "peak_governor_build_info", version=__version__) == 1
    metrics.set_leader(DB, True)
    assert value(metrics, "peak_governor_leader", database=DB) == 1
    metrics.set_leader(DB, False)
    assert value(metrics, "peak_governor_leader", database=DB) == 0
    metrics.set_dry_run(False)
    assert value(metrics, "peak_governor_dry_run") == 0
    assert value(GovernorMetrics([DB]), "peak_governor_dry_run") == 0


def test_registries_are_private():
    first, second = GovernorMetrics([DB]), GovernorMetrics([DB])
    first.observe_sample_error(DB)
    assert value(first, "peak_governor_sample_errors_total", database=DB) == 1
    assert value(second, "peak_governor_sample_errors_total", database=DB) == 0


# --- HTTP ----------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def health(clock):
    return Health([DB, DB2], interval=1.0, clock=clock)


@pytest.fixture
def server(metrics, health):
    server = serve("127.0.0.1", 0, metrics, health)
    yield server
    server.shutdown()


def request(server, path: str, method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_http_metrics(server, metrics):
    metrics.observe_sample(sample(waiter("bulk", 2.5)))
    status, headers, body = request(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert body == metrics.render()
    found = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert set(found) == set(EXPECTED_FAMILIES)
    assert request(server, "/metrics?name[]=x")[0] == 200


def test_http_healthz_goes_stale_without_beats(server, health, clock):
    assert request(server, "/healthz")[::2] == (200, b"ok\n")
    clock.now += 2.9
    assert request(server, "/healthz")[0] == 200
    clock.now += 0.1  # 3 intervals without a beat
    status, _headers, body = request(server, "/healthz")
    assert status == 503
    assert b"stale" in body
    health.beat()
    assert request(server, "/healthz")[::2] == (200, b"ok\n")


def test_http_readyz_names_unready_databases(server, health, clock):
    status, headers, body = request(server, "/readyz")
    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert body.count(b"\n") == 1 and body.endswith(b"\n")
    assert json.loads(body)["not_ready"] == [DB, DB2]

    health.set_ready(DB, True)
    status, _headers, body = request(server, "/readyz")
    assert status == 503
    assert json.loads(body) == {"ready": False, "not_ready": [DB2]}

    health.set_ready(DB2, True)
    assert request(server, "/readyz")[::2] == (200, b"ok\n")
    assert health.ready()

    health.set_ready(DB, False)
    status, _headers, body = request(server, "/readyz")
    assert (status, json.loads(body)["not_ready"]) == (503, [DB])

    health.set_ready(DB, True)
    clock.now += 3.0  # the loop stalled: what it said last is stale
    status, _headers, body = request(server, "/readyz")
    assert (status, json.loads(body)) == (
        503,
        {"ready": False, "not_ready": [], "stale": True},
    )
    assert not health.ready()
    with pytest.raises(ValueError, match="not configured"):
        health.set_ready("elsewhere", True)


@pytest.mark.parametrize("path", ["/", "/metric", "/metrics/x", "/health", "/x?y"])
def test_http_unknown_path_is_404(server, path):
    assert request(server, path)[0] == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "BREW"])
def test_http_other_methods_are_405(server, method):
    status, headers, _body = request(server, "/metrics", method)
    assert status == 405
    assert headers["Allow"] == "GET"


def test_http_requests_are_not_logged(server, capfd):
    for path in ("/metrics", "/healthz", "/readyz", "/nope"):
        request(server, path)
    request(server, "/metrics", "POST")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_http_shutdown_is_quick_and_frees_the_port(metrics, health):
    server = serve("127.0.0.1", 0, metrics, health)
    port = server.server_port
    assert port > 0
    assert request(server, "/healthz")[0] == 200
    started = time.monotonic()
    server.shutdown()
    assert time.monotonic() - started < 1.0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        conn.request("GET", "/healthz")
    conn.close()


def test_http_binds_loopback_by_default(metrics, health):
    server = serve(None, 0, metrics, health)
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert request(server, "/healthz")[0] == 200
    finally:
        server.shutdown()


# --- logs ----------------------------------------------------------------------


@pytest.fixture
def root_logging():
    """Put the root logger back as it was (configure_logging changes it)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # Under `make test` Odoo's record factory adds dbname/pid/perf_info to
    # every record; the governor runs without it.
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    # ...and its handler on the root logger writes text to the same stderr.
    root.handlers = []
    yield
    logging.setLogRecordFactory(factory)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.handlers = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def _reject_constant(name):
    raise ValueError(f"not JSON: {name}")


def json_lines(err: str) -> list[dict]:
    lines = err.splitlines()
    assert lines and err.endswith("\n")
    return [json.loads(line, parse_constant=_reject_constant) for line in lines]


TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_json_log_one_object_per_line(root_logging, capsys):
    configure_logging("info")
    log = logging.getLogger("peak_governor.test")
    log.debug("not shown")
    log.info(
        "leasing %s on %s",
        "root.bulk",
        DB,
        extra={"event": "lease", "database": DB, "evidence": {"pids": [1, 2]}},
    )
    log.warning("two\nlines")
    records = json_lines(capsys.readouterr().err)
    assert len(records) == 2
    first, second = records
    assert TS.fullmatch(first["ts"])
    assert first == {
        "ts": first["ts"],
        "level": "INFO",
        "logger": "peak_governor.test",
        "msg": "leasing root.bulk on odoo",
        "event": "lease",
        "database": DB,
        "evidence": {"pids": [1, 2]},
    }
    assert (second["level"], second["msg"]) == ("WARNING", "two\nlines")
    assert "exc" not in second


def test_json_log_includes_the_exception(root_logging, capsys):
    configure_logging("warning")
    log = logging.getLogger("peak_governor.test")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("cycle failed", extra={"event": "cycle_error"})
    (record,) = json_lines(capsys.readouterr().err)
    assert record["level"] == "ERROR"
    assert record["event"] == "cycle_error"
    assert record["exc"].startswith("Traceback")
    assert "ZeroDivisionError: division by zero" in record["exc"]


class Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr either")


def test_json_log_survives_what_json_cannot_encode(root_logging, capsys):
    configure_logging("debug")
    circular: dict = {}
    circular["self"] = circular
    log = logging.getLogger("peak_governor.test")
    log.info("objects", extra={"obj": object(), "when": time})
    log.info(
        "worse",
        extra={
            "circular": circular,
            "nan": float("nan"),
            "tuple_keys": {(1, 2): 3},
            "unprintable": Unprintable(),
            "fine": [1, "a"],
        },
    )
    log.info("core keys", extra={"level": "fake", "ts": "yesterday"})
    first, second, fourth = json_lines(capsys.readouterr().err)
    assert first["obj"].startswith("<object object at")
    assert first["when"].startswith("<module 'time'")
    assert second["circular"] == "{'self': {...}}"
    assert second["nan"] == "nan"
    assert second["tuple_keys"] == "{(1, 2): 3}"
    assert second["unprintable"] == "<unrepresentable Unprintable>"
    assert second["fine"] == [1, "a"]
    assert (fourth["level"], fourth["level_"]) == ("INFO", "fake")
    assert TS.fullmatch(fourth["ts"]) and fourth["ts_"] == "yesterday"


def test_json_log_survives_bad_format_arguments(root_logging):
    handler = configure_logging("info")
    record = logging.LogRecord(
        "peak_governor.test", logging.INFO, __file__, 1, "bad args %s %s", (1,), None
    )
    (line,) = handler.format(record).splitlines()
    assert json.loads(line)["msg"] == "'bad args %s %s' % (1,)"


def test_text_log_for_humans(root_logging, capsys):
    configure_logging("INFO", json_format=False)
    logging.getLogger("peak_governor.test").info(
        "calm again on %s", DB, extra={"event": "calm", "database": DB}
    )
    (line,) = capsys.readouterr().err.splitlines()
    assert not line.startswith("{")
    assert re.fullmatch(
        TS.pattern + r" INFO    peak_governor\.test: calm again on odoo "
        r'event="calm" database="odoo"',
        line,
    )


def test_configure_logging_twice_keeps_one_handler(root_logging, capsys):
    configure_logging("info")
    configure_logging("info")
    logging.getLogger("peak_governor.test").info("once")
    assert len(json_lines(capsys.readouterr().err)) == 1
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("chatty")


# --- secrets -------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    ["hunter2", "c2VjcmV0Zm9y=", "pass word", "abc=def", "host x", "   ", "p'w"],
)
def test_mask_keeps_nothing_of_a_password(secret):
    assert mask(secret) == "***"


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (
            "postgresql://governor:s3cret@db:5432/odoo",
            "postgresql://governor:***@db:5432/odoo",
        ),
        (
            "postgres://governor:p@ss/w?rd@db1,db2/odoo?sslmode=require",
            "postgres://governor:***@db1,db2/odoo?sslmode=require",
        ),
        (
            "postgresql://governor@db/odoo?sslmode=verify-full&sslpassword=k3y",
            "postgresql://governor@db/odoo?sslmode=verify-full&sslpassword=***",
        ),
        ("postgresql://db/odoo", "postgresql://db/odoo"),
        (
            "host=db port=5432 user=governor password=s3cret dbname=odoo",
            "host=db port=5432 user=governor password=*** dbname=odoo",
        ),
        (
            r"host=db password = 's3 cr\'et' sslpassword=k3y user=governor",
            "host=db password = *** sslpassword=*** user=governor",
        ),
        ("host=db user=governor", "host=db user=governor"),
        ("host=db password='unterminated s3cret", "***"),
        ("host=db passwd=s3cret", "***"),
        ("", ""),
    ],
)
def test_mask_hides_only_the_password_of_a_dsn(dsn, masked):
    assert mask(dsn) == masked
    for secret in ("s3cret", "s3 cr", "k3y", "p@ss", "rd@"):
        assert secret not in mask(dsn)
