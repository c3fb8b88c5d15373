"""peak_metrics against real servers: a prefork Odoo (2 workers recycled every
few requests), queue_job's jobrunner, the governor and a real Prometheus.

- counters scraped many times never go backwards and equal the requests made,
  although the workers that served them have exited;
- job run durations are counted once, by the worker that ran the job;
- 401 / 403 / 200, and a scrape creates no session and writes nothing;
- Prometheus (Debian package) scrapes Odoo with the token and the governor,
  loads the alert rules, and its HTTP API returns the expected values.
"""

import configparser
import glob
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from peak_dev.odoo import OdooServer, write_config
from peak_dev.processes import Child, free_port, wait_for_http
from peak_dev.prometheus import Prometheus, ensure_token_file
from peak_dev.settings import load
from pg import DB, GOVERNOR_ROLE, dsn, needs_db, sql
from prometheus_client.parser import text_string_to_metric_families

pytestmark = needs_db
TOKEN = "e2e-metrics-token-0123456789abcdef"
LIMIT_REQUEST = 15  # workers recycle often: their counters must survive
HEALTH_REQUESTS = 60
READY_TIMEOUT_S = 120
JOBS_SQL = """
INSERT INTO queue_job (
    uuid, name, state, channel, model_name, method_name, func_string,
    channel_method_name, records, args, kwargs, dependencies, priority, retry,
    max_retries, user_id, date_created
)
SELECT gen_random_uuid()::text, 'peak-metrics-e2e', 'pending', 'root.bulk',
       'res.partner', 'write', 'res.partner().write({})', '<res.partner>.write',
       jsonb_build_object('_type', 'odoo_recordset', 'model', 'res.partner',
                          'ids', jsonb_build_array(%s), 'uid', 1, 'su', true,
                          'context', jsonb_build_object()),
       jsonb_build_array(jsonb_build_object('comment', 'peak metrics e2e')),
       jsonb_build_object(), '{"depends_on": [], "reverse_depends_on": []}',
       10, 0, 1, 1, now() AT TIME ZONE 'utc'
  FROM generate_series(1, %s)
"""


def _test_data_dir() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.environ["PEAK_TEST_ODOO_CONFIG"])
    return parser["options"]["data_dir"]


def _start_odoo(workdir: Path, env: dict, section: dict | None = None, **options):
    settings = load()
    port = free_port()
    config = write_config(
        settings,
        workdir / "odoo.conf",
        DB,
        data_dir=_test_data_dir(),
        http_port=port,
        gevent_port=free_port(),
        http_interface="127.0.0.1",
        max_cron_threads=0,
        log_level="info",
        **options,
    )
    if section:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(config)
        parser["peak_metrics"] = section
        with open(config, "w") as handle:
            parser.write(handle)
    server = OdooServer(settings, config, DB, workdir / "odoo.log")
    # None removes a variable: prometheus_client enters multiprocess mode when
    # PROMETHEUS_MULTIPROC_DIR merely exists, even empty (files in the cwd).
    merged = {**os.environ, **env}
    server.env = {key: value for key, value in merged.items() if value is not None}
    server.start()
    try:
        wait_for_http(
            f"http://127.0.0.1:{port}/web/health", READY_TIMEOUT_S, server.proc
        )
    except Exception:
        server.stop()
        raise
    return server, f"http://127.0.0.1:{port}"


def scrape(base: str, token: str | None = TOKEN):
    """(status, headers, body text)."""
    request = urllib.request.Request(f"{base}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def samples(text: str) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(parsed: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(
        value
        for (sample, items), value in parsed.items()
        if sample == name and wanted <= set(items)
    )


def _cumulative(parsed: dict) -> dict:
    """Every sample that may only grow: counters and histogram parts."""
    return {
        key: value
        for key, value in parsed.items()
        if key[0].endswith(("_total", "_count", "_bucket", "_sum"))
        and key[0].startswith("peak_")
        and not key[0].startswith(("peak_sale_", "peak_account_"))
    }


def _session_files(data_dir: str) -> set:
    return set(glob.glob(os.path.join(data_dir, "sessions", "**", "*"), recursive=True))


STATS_FLUSH_S = 11  # PostgreSQL 15 backends report table stats within 10 s


def _writes() -> dict:
    """Rows inserted, updated or deleted so far, per table."""
    return dict(
        sql(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del "
            "FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0"
        )
    )


@pytest.fixture(scope="module")
def prefork(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("metrics-prefork")
    multiproc = workdir / "prometheus-multiproc"
    multiproc.mkdir()
    (multiproc / "counter_1.db").write_bytes(b"stale file of an earlier run")
    server, base = _start_odoo(
        workdir,
        {
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
            "PEAK_METRICS_TOKEN": TOKEN,
            "PEAK_METRICS_CACHE_SECONDS": "0",
            "ODOO_QUEUE_JOB_MAX_CAPACITY": "2",
        },
        workers=2,
        limit_request=LIMIT_REQUEST,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while f"queue job runner ready for db {DB}" not in server.log_path.read_text(
            errors="replace"
        ):
            assert server.alive(), f"Odoo exited, see {server.log_path}"
            assert time.monotonic() < deadline, f"no jobrunner, see {server.log_path}"
            time.sleep(0.3)
        yield base, multiproc, server
    finally:
        server.stop(grace_s=15)
        sql("DELETE FROM queue_job WHERE name = 'peak-metrics-e2e'")


def test_counters_are_exact_and_monotone_across_recycled_workers(prefork):
    base, multiproc, _server = prefork
    assert not (multiproc / "counter_1.db").exists(), "stale files must be wiped"
    status, _headers, text = scrape(base)
    assert status == 200, text
    first = samples(text)
    health_0 = total(
        first, "peak_http_request_duration_seconds_count", route_group="health"
    )
    metrics_0 = total(
        first, "peak_http_request_duration_seconds_count", route_group="metrics"
    )
    previous, scrapes = _cumulative(first), 1
    for i in range(HEALTH_REQUESTS):
        with urllib.request.urlopen(f"{base}/web/health", timeout=30) as response:
            assert response.status == 200
        if i % 5 == 4:
            status, _headers, text = scrape(base)
            assert status == 200, text
            parsed = samples(text)
            current = _cumulative(parsed)
            for key, value in previous.items():
                assert current.get(key, 0.0) >= value, f"{key} went backwards"
            # Every earlier scrape is counted, none twice (this one is not yet).
            assert (
                total(
                    parsed,
                    "peak_http_request_duration_seconds_count",
                    route_group="metrics",
                )
                == metrics_0 + scrapes
            )
            previous, scrapes = current, scrapes + 1
    final = samples(scrape(base)[2])
    assert (
        total(final, "peak_http_request_duration_seconds_count", route_group="health")
        == health_0 + HEALTH_REQUESTS
    )
    assert total(
        final,
        "peak_http_request_duration_seconds_bucket",
        route_group="health",
        le="+Inf",
    ) == (health_0 + HEALTH_REQUESTS)
    # More than 2 worker processes served them: the first ones were recycled.
    pids = {
        Path(name).stem.rsplit("_", 1)[-1]
        for name in glob.glob(str(multiproc / "histogram_*.db"))
    }
    assert len(pids) >= 3, pids
    assert total(final, "peak_worker_recycles_total", kind="http") >= 2


def test_job_durations_are_counted_once_by_the_worker_that_ran_them(prefork):
    base, _multiproc, _server = prefork
    labels = {"channel": "root.bulk", "priority_class": "bulk"}
    assert (
        sql(
            "SELECT count(*) FROM queue_job WHERE channel = 'root.bulk' "
            "AND state IN ('pending', 'enqueued', 'started')"
        )[0][0]
        == 0
    )

    def counted(scraped):
        """Job runs observed, (done, failed)."""
        return tuple(
            total(
                scraped,
                "peak_queue_job_run_duration_seconds_count",
                outcome=outcome,
                **labels,
            )
            for outcome in ("done", "failed")
        )

    done_0, failed_0 = counted(samples(scrape(base)[2]))
    partner_id = sql("SELECT min(id) FROM res_partner")[0][0]
    sql(JOBS_SQL, (partner_id, 3))
    sql(JOBS_SQL, (2_000_000_000, 1))  # a missing record: the job fails
    deadline = time.monotonic() + 60
    while sql(
        "SELECT count(*) FROM queue_job WHERE name = 'peak-metrics-e2e' "
        "AND state NOT IN ('done', 'failed')"
    )[0][0]:
        assert time.monotonic() < deadline, "the jobrunner did not run the jobs"
        time.sleep(0.3)
    states = dict(
        sql(
            "SELECT state, count(*) FROM queue_job WHERE name = 'peak-metrics-e2e' "
            "GROUP BY state"
        )
    )
    assert states == {"done": 3, "failed": 1}

    # queue_job commits a failed job's state from a cursor of its own before
    # the worker's request (and its observation) ends: the count may trail
    # the database by a moment, never by more than the request's end.
    deadline = time.monotonic() + 10
    after = samples(scrape(base)[2])
    while counted(after) != (done_0 + 3, failed_0 + 1) and time.monotonic() < deadline:
        time.sleep(0.2)
        after = samples(scrape(base)[2])
    assert counted(after) == (done_0 + 3, failed_0 + 1)
    assert total(after, "peak_queue_jobs", state="failed", **labels) >= 1


def test_token_paths_create_no_session_and_write_nothing(prefork):
    base, _multiproc, _server = prefork
    data_dir = _test_data_dir()
    sessions = _session_files(data_dir)
    time.sleep(STATS_FLUSH_S)  # earlier tests' writes reach the statistics
    writes = _writes()
    for token, status, message in (
        (None, 401, "unauthorized"),
        ("wrong-token-0123456789abcdef", 401, "wrong token"),
        (TOKEN[:-1], 401, "wrong token"),
        (TOKEN, 200, "peak_queue_jobs"),
    ):
        for _ in range(3):
            got, headers, text = scrape(base, token)
            assert got == status, text
            assert message in text
            assert "Set-Cookie" not in headers, "a scrape must not open a session"
    assert _session_files(data_dir) == sessions
    time.sleep(STATS_FLUSH_S)
    after = _writes()
    changed = {
        t: after[t] - writes.get(t, 0) for t in after if after[t] != writes.get(t)
    }
    assert not changed, f"a scrape wrote to the database: {changed}"


def _scrape_from(base: str, source_ip: str, token: str = TOKEN, headers=None):
    """GET /metrics from another loopback source address (Linux routes all
    of 127.0.0.0/8 to lo), to exercise the allow-list for real."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(
        host, int(port), timeout=30, source_address=(source_ip, 0)
    )
    try:
        headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        conn.request("GET", "/metrics", headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_config_section_allow_list_and_one_process_registry(tmp_path):
    """Threaded server, settings from the [peak_metrics] section only, no
    multiprocess directory: the process's own registry is served."""
    server, base = _start_odoo(
        tmp_path,
        {"PEAK_METRICS_TOKEN": "", "PROMETHEUS_MULTIPROC_DIR": None},
        section={"token": TOKEN, "allow": "10.0.0.0/8, 127.0.0.2/32"},
        workers=0,
        proxy_mode=True,
    )
    try:
        status, _headers, text = scrape(base)  # from 127.0.0.1
        assert status == 403
        assert "not in PEAK_METRICS_ALLOW" in text
        # Straight to Odoo's port, claiming to come from an allowed address:
        # proxy_mode believes it for remote_addr, the allow-list must not.
        spoofed = {
            "X-Forwarded-Host": "odoo.example.com",
            "X-Forwarded-For": "10.1.2.3",
        }
        status, text = _scrape_from(base, "127.0.0.1", headers=spoofed)
        assert status == 403, text
        status, text = _scrape_from(base, "127.0.0.2", token="wrong-token-0123456789")
        assert status == 401
        status, text = _scrape_from(base, "127.0.0.2")
        assert status == 200, text
        before = total(
            samples(text),
            "peak_http_request_duration_seconds_count",
            route_group="health",
        )
        for _ in range(7):
            urllib.request.urlopen(f"{base}/web/health", timeout=30).close()
        status, text = _scrape_from(base, "127.0.0.2")
        parsed = samples(text)
        assert (
            total(
                parsed, "peak_http_request_duration_seconds_count", route_group="health"
            )
            == before + 7
        )
        # In one process the default registry also carries process metrics.
        assert total(parsed, "process_cpu_seconds_total") > 0
    finally:
        server.stop()


def test_prometheus_scrapes_odoo_and_the_governor(prefork, tmp_path):
    base, _multiproc, _server = prefork
    token_file = tmp_path / "metrics-token"
    ensure_token_file(token_file, TOKEN)
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    governor_port = free_port()
    governor = Child(
        "peak-governor",
        [
            sys.executable,
            "-m",
            "peak_governor.cli",
            "--dsn",
            dsn(user=GOVERNOR_ROLE),
            "--interval",
            "0.5",
            "--http-port",
            str(governor_port),
            "--instance-id",
            "metrics-e2e",
            "--log-format",
            "text",
        ],
        tmp_path / "governor.log",
    ).start()
    prometheus = Prometheus(
        tmp_path / "prometheus",
        free_port(),
        base.removeprefix("http://"),
        token_file,
        governor_target=f"127.0.0.1:{governor_port}",
        scrape_interval_s=1,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{governor_port}/healthz", 30, governor.proc)
        prometheus.start()
        deadline = time.monotonic() + 60
        while True:
            health = {t["labels"]["job"]: t["health"] for t in prometheus.targets()}
            if health == {"odoo": "up", "peak-governor": "up"}:
                break
            assert time.monotonic() < deadline, health
            time.sleep(0.5)
        # Odoo's count of /web/health requests, as Prometheus stored it.
        expected = total(
            samples(scrape(base)[2]),
            "peak_http_request_duration_seconds_count",
            route_group="health",
        )
        query = 'sum(peak_http_request_duration_seconds_count{route_group="health"})'
        deadline = time.monotonic() + 30
        while True:
            result = prometheus.query(query)
            if result and float(result[0]["value"][1]) == expected:
                break
            assert time.monotonic() < deadline, (result, expected)
            time.sleep(0.5)
        channels = prometheus.query('peak_queue_channel_capacity{channel="root.bulk"}')
        assert [r["metric"]["priority_class"] for r in channels] == ["bulk"]
        assert prometheus.query("peak_metrics_db_up")[0]["value"][1] == "1"
        assert float(prometheus.query("peak_governor_build_info")[0]["value"][1]) == 1
        groups = {g["name"] for g in prometheus.api("rules")["groups"]}
        assert {"peak-business", "peak-queue", "peak-platform", "peak-scrape"} <= groups
        # The page make run prints is served (Debian's: the classic UI, which
        # renders the targets server-side).
        page = prometheus.targets_page()
        assert page.endswith("targets"), page
        with urllib.request.urlopen(page, timeout=10) as response:
            html = response.read().decode()
        if page.endswith("/classic/targets"):
            assert "peak-governor" in html and "odoo" in html
    finally:
        prometheus.stop()
        governor.stop()
        sql("DELETE FROM peak_queue_governor_leader WHERE holder = 'metrics-e2e'")
