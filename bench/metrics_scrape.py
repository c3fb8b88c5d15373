"""Scrape time of peak_metrics' /metrics with a large queue_job table.

The claim (peak_metrics): *with 1,000,000 queue_job rows and 8 prefork
workers, a scrape stays under 100 ms at p95, even when every scrape collects
from the database; a naive per-scrape query set does not.*

One run:

1. Database: ``--db NAME`` (suite installed), else a throw-away database
   ``peak_bench_metrics_<hex>`` with queue_job, peak_base, peak_queue and
   peak_metrics (dropped at the end). ``--jobs N`` rows are inserted with
   one ``INSERT ... SELECT generate_series`` (queue_job's NOTIFY trigger off
   inside that transaction only), in the proportions of a queue_job table in
   production: 95 % done (spread over 30 days, as queue_job's autovacuum keeps
   them), 4 % pending, 0.5 % failed, 0.5 % started, over 6 channels. Waiting
   jobs get an eta a year ahead and no jobrunner is started, so none runs.
2. Odoo prefork with ``--workers`` HTTP workers (default 8), peak_metrics
   server-wide, the multiprocess directory set. Two servers in turn:
   ``uncached`` (PEAK_METRICS_CACHE_SECONDS=0: every scrape runs the whole
   database collection, the worst case) and ``cached`` (the default 10 s).
   Each: a warm-up, then ``--scrapes`` GETs with the token from
   ``--concurrency`` threads; latency per GET, p50/p95/max.
3. Collection alone, from the benchmark's own connection, interleaved: the
   addon's query set (``collector.collect``) vs a naive per-scrape set (what
   public Odoo exporters run: counts by channel and state over every row,
   oldest pending job and mean run time per channel, one query each).

Writes bench/results/metrics_scrape.json and .md (``--smoke``: *.smoke.*).
"""

import concurrent.futures
import importlib
import importlib.util
import logging
import os
import secrets
import statistics
import sys
import time
import urllib.request
from contextlib import closing

import bench_machine  # beside this script; puts scripts/ on the path
import bench_stats
import psycopg
import psycopg2
from bench_machine import ROOT
from peak_dev.odoo import OdooServer, write_config
from peak_dev.processes import free_port, wait_for_http

_logger = logging.getLogger("bench.metrics_scrape")
MODULES = ["queue_job", "peak_base", "peak_queue", "peak_metrics"]
MARKER = "peak-bench-metrics"
CHANNELS = (
    "root.bulk",
    "root.background",
    "root.operational",
    "root.critical",
    "root.edi",
    "root.marketplace",
)
TARGET_P95_MS = 100.0
FULL = {"jobs": 1_000_000, "workers": 8, "scrapes": 400, "concurrency": 4, "direct": 30}
SMOKE = {"jobs": 20_000, "workers": 2, "scrapes": 30, "concurrency": 2, "direct": 5}
TOKEN = secrets.token_urlsafe(24)

# state, share of the rows; waiting jobs are due in a year (nothing runs).
MIX = (("done", 0.95), ("pending", 0.04), ("failed", 0.005), ("started", 0.005))
INSERT_SQL = """
INSERT INTO queue_job (uuid, name, state, channel, model_name, method_name,
                       date_created, date_started, date_done, eta, priority, retry,
                       max_retries, user_id)
SELECT gen_random_uuid()::text, %(marker)s, %(state)s::varchar,
       (%(channels)s::text[])[1 + (g %% %(n_channels)s)],
       'res.partner', 'write',
       ts, ts + interval '1 second',
       CASE WHEN %(state)s::varchar = 'done'
            THEN ts + (1 + g %% 50) * interval '1 second' END,
       CASE WHEN %(state)s::varchar = 'pending'
            THEN (now() AT TIME ZONE 'utc') + interval '365 days' END,
       10, 1, 5, 1
  FROM generate_series(1, %(rows)s) g,
       LATERAL (SELECT (now() AT TIME ZONE 'utc')
                       - (g %% 2592000) * interval '1 second' AS ts) t
"""
# What a per-scrape exporter without care runs: every row, every time.
NAIVE_QUERIES = (
    "SELECT channel, state, count(*) FROM queue_job GROUP BY channel, state",
    "SELECT min(date_created) FROM queue_job WHERE state = 'pending' AND channel = %s",
    "SELECT avg(EXTRACT(EPOCH FROM date_done - date_started)) FROM queue_job "
    "WHERE state = 'done' AND channel = %s",
    "SELECT count(*) FROM queue_job WHERE state = 'failed' AND channel = %s",
)


class BenchError(RuntimeError):
    pass


def _stats(samples_ms):
    return {
        "samples": len(samples_ms),
        **bench_stats.latency(samples_ms, digits=2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
    }


def _dsn(settings, db_name):
    parts = [f"dbname={db_name}", f"user={settings.db_user}"]
    if settings.db_host:
        parts += [f"host={settings.db_host}", f"port={settings.db_port}"]
    if settings.db_password:
        parts.append(f"password={settings.db_password}")
    return " ".join(parts)


def insert_jobs(conn, total):
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cr:
        cr.execute("ALTER TABLE queue_job DISABLE TRIGGER queue_job_notify")
        for state, share in MIX:
            cr.execute(
                INSERT_SQL,
                {
                    "marker": MARKER,
                    "state": state,
                    "channels": list(CHANNELS),
                    "n_channels": len(CHANNELS),
                    "rows": max(1, int(total * share)),
                },
            )
        cr.execute("ALTER TABLE queue_job ENABLE TRIGGER queue_job_notify")
    conn.execute("ANALYZE queue_job")
    count = conn.execute(
        "SELECT count(*) FROM queue_job WHERE name = %s", (MARKER,)
    ).fetchone()[0]
    _logger.info("inserted %s jobs in %.1f s", count, time.perf_counter() - started)
    return count


def delete_jobs(conn):
    with conn.transaction():
        conn.execute("ALTER TABLE queue_job DISABLE TRIGGER queue_job_notify")
        conn.execute("DELETE FROM queue_job WHERE name = %s", (MARKER,))
        conn.execute("ALTER TABLE queue_job ENABLE TRIGGER queue_job_notify")


def _get(url, expect=b"peak_queue_jobs{"):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        if response.status != 200 or expect not in body:
            raise BenchError(f"bad answer from {url}: {response.status} {body[:200]!r}")
    return (time.perf_counter() - started) * 1000, body


def _pair(metrics_url, health_url, index):
    """One /metrics and one /web/health GET, in alternating order: the health
    check is the baseline (Odoo's floor for a request on this machine now)."""
    if index % 2:
        health = _get(health_url, b"pass")[0]
        metrics = _get(metrics_url)[0]
    else:
        metrics = _get(metrics_url)[0]
        health = _get(health_url, b"pass")[0]
    return metrics, health


def scrape_server(settings, db_name, workdir, workers, cache_s, scrapes, concurrency):
    multiproc = workdir / f"multiproc-{cache_s}"
    multiproc.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(
        settings,
        workdir / f"odoo-{cache_s}.conf",
        db_name,
        data_dir=workdir / "data",
        workers=workers,
        max_cron_threads=0,
        http_port=port,
        gevent_port=free_port(),
        http_interface="127.0.0.1",
        # No queue_job jobrunner: nothing may run the benchmark's jobs.
        server_wide_modules="base,web,peak_metrics",
        log_level="warn",
    )
    server = OdooServer(settings, config, db_name, workdir / f"odoo-{cache_s}.log")
    server.env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "PEAK_METRICS_TOKEN": TOKEN,
        "PEAK_METRICS_CACHE_SECONDS": str(cache_s),
    }
    server.start()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/web/health", 180, server.proc)
        # Warm-up: every worker loads its registry and the metric files.
        for _ in range(workers * 2):
            _get(url)
        health_url = f"http://127.0.0.1:{port}/web/health"
        latencies, baseline = [], []
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            for metrics_ms, health_ms in pool.map(
                lambda i: _pair(url, health_url, i), range(scrapes)
            ):
                latencies.append(metrics_ms)
                baseline.append(health_ms)
        body = _get(url)[1]
        return {
            **_stats(latencies),
            "health_baseline": _stats(baseline),
            "cache_seconds": cache_s,
            "body_bytes": len(body),
            "series": sum(
                1 for line in body.splitlines() if line and not line.startswith(b"#")
            ),
        }
    finally:
        server.stop(grace_s=15)


def _metrics_lib():
    """peak_metrics' pure lib package, loaded by path (no Odoo needed)."""
    lib = ROOT / "addons" / "peak_metrics" / "lib"
    spec = importlib.util.spec_from_file_location(
        "peak_metrics_lib", lib / "__init__.py", submodule_search_locations=[str(lib)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules["peak_metrics_lib"] = package
    spec.loader.exec_module(package)
    return importlib.import_module(
        "peak_metrics_lib.collector"
    ), importlib.import_module("peak_metrics_lib.config")


def direct_collections(dsn, rounds):
    """The addon's collection vs the naive set, interleaved, one connection
    (psycopg2, as Odoo's cursor: the collector's SQL is written for it)."""
    collector, metrics_config = _metrics_lib()
    config = metrics_config.load({}, {})
    ours, naive = [], []
    with closing(psycopg2.connect(dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            for _ in range(rounds + 1):
                started = time.perf_counter()
                collector.collect(cr, config, {}).render()
                ours.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                cr.execute(NAIVE_QUERIES[0])
                cr.fetchall()
                for channel in CHANNELS:
                    for query in NAIVE_QUERIES[1:]:
                        cr.execute(query, (channel,))
                        cr.fetchall()
                naive.append((time.perf_counter() - started) * 1000)
    # The first round of each warms the caches and is not counted.
    return _stats(ours[1:]), _stats(naive[1:])


def run(args, settings) -> dict:
    load_start = os.getloadavg()
    name = f"peak_bench_metrics_{secrets.token_hex(3)}"
    with bench_machine.odoo_database(settings, MODULES, name, args.db) as scratch:
        return measure(args, settings, scratch.db_name, scratch.dir, load_start)


def measure(args, settings, db_name, workdir, load_start) -> dict:
    dsn = _dsn(settings, db_name)
    with closing(psycopg.connect(dsn, autocommit=True)) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        delete_jobs(conn)
        rows = insert_jobs(conn, args.jobs)
        total_rows = conn.execute("SELECT count(*) FROM queue_job").fetchone()[0]
    try:
        servers = {
            name: scrape_server(
                settings,
                db_name,
                workdir,
                args.workers,
                cache_s,
                args.scrapes,
                args.concurrency,
            )
            for name, cache_s in (("uncached", 0), ("cached", 10))
        }
        ours, naive = direct_collections(dsn, args.direct)
    finally:
        with closing(psycopg.connect(dsn, autocommit=True)) as conn:
            delete_jobs(conn)
    return {
        "smoke": args.smoke,
        "queue_job_rows": total_rows,
        "inserted_rows": rows,
        "mix": dict(MIX),
        **{k: getattr(args, k) for k in ("workers", "scrapes", "concurrency")},
        "scrape": servers,
        "collection": {
            "peak_metrics": ours,
            "naive": naive,
            "ratio_p50": round(naive["p50_ms"] / max(ours["p50_ms"], 0.01), 1),
            "ratio_p95": round(naive["p95_ms"] / max(ours["p95_ms"], 0.01), 1),
        },
        "target_p95_ms": TARGET_P95_MS,
        "uncached_p95_within_target": servers["uncached"]["p95_ms"] <= TARGET_P95_MS,
        "machine": {
            **bench_machine.host(),
            "postgresql": version,
            "loadavg_at_start": [round(v, 2) for v in load_start],
            "loadavg_at_end": [round(v, 2) for v in os.getloadavg()],
        },
    }


def _row(label, s) -> str:
    return (
        f"| {label} | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} | {s['samples']} |"
    )


def _title(result) -> str:
    return (
        f"/metrics scrape time, {result['queue_job_rows']:,} queue_job rows, "
        f"{result['workers']} workers"
    )


def markdown(result) -> str:
    """The table under the title (bench_machine.write_results adds it)."""
    lines = [
        "| path | p50 ms | p95 ms | max ms | samples |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (
        ("uncached", "GET /metrics, every scrape collects (cache 0 s)"),
        ("cached", "GET /metrics, default cache 10 s"),
    ):
        s = result["scrape"][name]
        lines.append(_row(label, s))
        lines.append(
            _row("  same server, same time: GET /web/health", s["health_baseline"])
        )
    for name, label in (
        ("peak_metrics", "database collection: peak_metrics' queries"),
        ("naive", "database collection: naive per-scrape queries"),
    ):
        s = result["collection"][name]
        lines.append(_row(label, s))
    machine = result["machine"]
    lines += [
        "",
        f"Naive / peak_metrics collection: p50 x{result['collection']['ratio_p50']}, "
        f"p95 x{result['collection']['ratio_p95']}. Uncached scrape p95 within "
        f"{result['target_p95_ms']:.0f} ms: "
        f"{'yes' if result['uncached_p95_within_target'] else 'no'}.",
        f"{result['scrapes']} scrapes from {result['concurrency']} threads per server. "
        f"Machine: {machine['cpus']} CPUs, {machine['memory_gb']} GB, PostgreSQL "
        f"{machine['postgresql']}; load average {machine['loadavg_at_start']} "
        f"at start, {machine['loadavg_at_end']} at end.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = bench_machine.arguments(__doc__.splitlines()[0], "small and quick")
    parser.add_argument("--db", help="existing database with the suite installed")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--scrapes", type=int)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--direct", type=int, help="direct collection rounds")
    args = bench_machine.parse(parser, argv, SMOKE, FULL)
    bench_machine.begin()
    settings = bench_machine.load_settings()
    if settings is None:
        return 2
    try:
        result = run(args, settings)
    except (BenchError, RuntimeError, psycopg.Error) as exc:
        _logger.error("benchmark failed: %s", exc)
        return 1
    bench_machine.publish(
        result, args, "metrics_scrape", _title(result), markdown(result)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
