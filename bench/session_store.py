#!/usr/bin/env python3
"""HTTP session store: peak_session_redis vs. Odoo's filesystem store.

What it answers (peak_session_redis): what one request pays for its session
in Redis (one loopback round trip per ``get`` and per ``save``) next to Odoo's
own filesystem store (page-cache reads, a temp file + rename per save), and
what the session garbage collection (``ir.http._gc_sessions`` ->
``store.vacuum``) costs once Redis expires sessions by itself.

Both stores hold the same ``--sessions`` logged-in sessions (100 000 by
default; JSON of a real Odoo 18 session, ~700 bytes) and are measured in the
same run, interleaved in rounds so drift hits both alike:

- steady load: ``--rate`` simulated requests per second, open loop (a request
  is due at a fixed instant whether or not the previous one was slow); each
  loads a random existing session (``get``), changes it and saves it (``save``),
  what Odoo does on a request that dirties its session. ``get`` and ``save``
  are timed separately, p50/p95/p99 over all rounds;
- vacuum: Odoo's ``FilesystemSessionStore.vacuum`` (glob + stat of every file,
  nothing old enough to delete) vs. ``RedisSessionStore.vacuum`` (Redis expires
  keys itself; the store only empties a left-over filesystem directory, here
  empty after the switch-over).

The filesystem store lives in a temporary directory on the same disk as the
checkout's ``.state`` (not tmpfs when ``/tmp`` is one), Redis is a private
``redis-server`` on a free loopback port (no persistence), the store has the
production timeouts. Ratios are Redis / filesystem, measured in one run.

Usage (from the repository root)::

    .venv/bin/python bench/session_store.py            # 100 000 sessions
    .venv/bin/python bench/session_store.py --smoke    # 2 000 sessions, ~10 s
"""

import logging
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bench_machine  # beside this script; puts scripts/ on the path
import bench_stats
from bench_machine import ROOT
from peak_dev.redis import RedisServer

_logger = logging.getLogger("peak.bench.sessions")

DEFAULT = {"sessions": 100_000, "rate": 200, "seconds": 30, "rounds": 3}
SMOKE = {"sessions": 2_000, "rate": 100, "seconds": 2, "rounds": 2}
VACUUM_REPEATS = 3


def _odoo_imports():
    from odoo import http

    import odoo.addons

    addons = str(ROOT / "addons")
    if addons not in odoo.addons.__path__:
        odoo.addons.__path__.append(addons)
    from odoo.addons.peak_session_redis.lib.config import StoreConfig
    from odoo.addons.peak_session_redis.lib.store import RedisSessionStore

    return http, StoreConfig, RedisSessionStore


def _session_data(uid: int) -> dict:
    """What Odoo 18 keeps for a logged-in user, with realistic sizes."""
    return {
        "db": "peak",
        "debug": "",
        "login": f"picker{uid}@example.com",
        "uid": uid,
        "session_token": f"{random.getrandbits(256):064x}",
        "context": {
            "lang": "en_US",
            "tz": "Europe/Brussels",
            "uid": uid,
            "allowed_company_ids": [1],
        },
        "_trace": [
            {
                "platform": "linux",
                "browser": "chrome",
                "ip_address": f"10.0.0.{uid % 250}",
                "first_activity": time.time(),
                "last_activity": time.time(),
            }
        ],
        "geoip": {},
        "pre_uid": None,
        "pre_login": None,
        "create_time": time.time(),
    }


def _percentiles(samples: list[float]) -> dict:
    ms = [s * 1000 for s in samples]
    # The floor rank, as the committed results were computed.
    return {
        "count": len(ms),
        **bench_stats.latency(ms, digits=4, pcts=(50, 95, 99), method="floor"),
    }


def _populate(fs_store, redis_store, count: int, http) -> list[str]:
    sids = []
    client = redis_store.client
    pipe = client.pipeline(transaction=False)
    for uid in range(1, count + 1):
        session = http.Session(_session_data(uid), fs_store.generate_key())
        fs_store.save(session)
        pipe.set(
            redis_store.key(session.sid),
            redis_store._encode(session, 7 * 86400),
            ex=7 * 86400,
        )
        if uid % 1000 == 0:
            pipe.execute()
        sids.append(session.sid)
    pipe.execute()
    return sids


def _steady(store, sids, rate: int, seconds: float, gets, saves) -> int:
    """Open-loop load: request i is due at start + i / rate."""
    interval = 1.0 / rate
    total = int(rate * seconds)
    late = 0
    start = time.perf_counter()
    for i in range(total):
        due = start + i * interval
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        elif now - due > interval:
            late += 1
        sid = random.choice(sids)
        t0 = time.perf_counter()
        session = store.get(sid)
        t1 = time.perf_counter()
        assert session.get("uid"), "a populated session must load"
        session["context"] = dict(session["context"], last_request=i)
        t2 = time.perf_counter()
        store.save(session)
        t3 = time.perf_counter()
        gets.append(t1 - t0)
        saves.append(t3 - t2)
    return late


def run(args) -> dict:
    http, StoreConfig, RedisSessionStore = _odoo_imports()
    sessions, rate = args.sessions, args.rate
    seconds, rounds = args.seconds, args.rounds
    state = ROOT / ".state"
    state.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sessions-", dir=state))
    redis_server = RedisServer(workdir / "redis")
    try:
        redis_server.start()
        fs_path = workdir / "filesystem"
        fs_path.mkdir()
        fs_store = http.FilesystemSessionStore(
            str(fs_path), session_class=http.Session, renew_missing=True
        )
        redis_store = RedisSessionStore(
            StoreConfig(
                url=redis_server.url, prefix="bench:", key_secret=secrets.token_hex(32)
            ),
            http.Session,
            filesystem_path=str(workdir / "empty-after-switch"),
        )
        _logger.info("populating %d sessions in both stores", sessions)
        started = time.perf_counter()
        sids = _populate(fs_store, redis_store, sessions, http)
        populate_s = time.perf_counter() - started
        samples = {
            name: {"get": [], "save": [], "late": 0} for name in ("filesystem", "redis")
        }
        stores = {"filesystem": fs_store, "redis": redis_store}
        _steady(fs_store, sids, rate, 0.5, [], [])  # warm-up, both
        _steady(redis_store, sids, rate, 0.5, [], [])
        for round_no in range(rounds):
            order = (
                ["filesystem", "redis"]
                if round_no % 2 == 0
                else ["redis", "filesystem"]
            )
            for name in order:
                _logger.info("round %d: %s, %d req/s", round_no + 1, name, rate)
                bucket = samples[name]
                bucket["late"] += _steady(
                    stores[name], sids, rate, seconds, bucket["get"], bucket["save"]
                )
        # Vacuum: Odoo's filesystem vacuum reads root.session_store.path.
        http.root.session_store = fs_store
        vacuum = {"filesystem": [], "redis": []}
        for _i in range(VACUUM_REPEATS):
            t0 = time.perf_counter()
            fs_store.vacuum(max_lifetime=7 * 86400)
            vacuum["filesystem"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            redis_store.vacuum(max_lifetime=7 * 86400)
            vacuum["redis"].append(time.perf_counter() - t0)
        left = sum(1 for _p in fs_path.glob("*/*"))
        assert left == sessions, f"the vacuum must not delete live sessions ({left})"
        assert redis_store.client.dbsize() == sessions
    finally:
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    result = {
        "benchmark": "session_store",
        "smoke": bool(args.smoke),
        "host": bench_machine.host(),
        "redis_version": "7 (Debian redis-server, loopback, no persistence)",
        "sessions": sessions,
        "rate_per_s": rate,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "populate_s": round(populate_s, 2),
        "stores": {},
        "vacuum_ms": {
            name: round(statistics.median(values) * 1000, 3)
            for name, values in vacuum.items()
        },
    }
    for name, bucket in samples.items():
        result["stores"][name] = {
            "get": _percentiles(bucket["get"]),
            "save": _percentiles(bucket["save"]),
            "late_requests": bucket["late"],
        }
    fs, rd = result["stores"]["filesystem"], result["stores"]["redis"]
    result["ratios_redis_over_filesystem"] = {
        f"{op}_{q}": round(rd[op][f"{q}_ms"] / fs[op][f"{q}_ms"], 2)
        for op in ("get", "save")
        for q in ("p50", "p95", "p99")
    }
    result["ratios_redis_over_filesystem"]["vacuum"] = round(
        result["vacuum_ms"]["redis"] / max(result["vacuum_ms"]["filesystem"], 1e-6),
        5,
    )
    return result


def markdown(result: dict) -> str:
    """The table under the title (bench_machine.write_results adds it)."""
    host = result["host"]
    lines = [
        f"{result['sessions']:,} logged-in sessions in each store; "
        f"{result['rate_per_s']} requests/s (get + save), "
        f"{result['rounds']} interleaved rounds of {result['seconds_per_round']} s "
        f"per store; {host['cpus']} CPUs ({host['cpu_model']}), "
        f"Python {host['python']}.",
        "",
        "| store | get p50 | get p95 | get p99 | save p50 | save p95 | save p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, data in result["stores"].items():
        cells = [
            f"{data[op][q + '_ms']:.3f} ms"
            for op in ("get", "save")
            for q in ("p50", "p95", "p99")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratios = result["ratios_redis_over_filesystem"]
    lines += [
        "",
        "Redis / filesystem: "
        + ", ".join(f"{k} x{v}" for k, v in ratios.items() if k != "vacuum"),
        "",
        "| vacuum (median of 3) | filesystem | redis |",
        "|---|---|---|",
        f"| {result['sessions']:,} live sessions | "
        f"{result['vacuum_ms']['filesystem']:.1f} ms | "
        f"{result['vacuum_ms']['redis']:.3f} ms |",
        "",
        "Redis expires sessions by TTL; its vacuum only empties the old "
        "filesystem directory after a switch-over (empty here).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = bench_machine.arguments(__doc__.splitlines()[0], "small and fast")
    parser.add_argument("--sessions", type=int)
    args = bench_machine.parse(parser, argv, SMOKE, DEFAULT)
    bench_machine.begin()
    result = run(args)
    bench_machine.publish(
        result,
        args,
        "session_store",
        "Session store: Redis vs. Odoo's filesystem store",
        markdown(result),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
