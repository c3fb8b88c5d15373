"""Redis outage against a real multi-process Odoo (2 HTTP workers).

Odoo starts while its private Redis is down, keeps answering /web/health,
answers 503 "session store unavailable" (page and JSON-RPC) within the
timeouts to requests that need a session, and recovers without a restart when
Redis comes back; both workers then share the session. A bad setting stops
Odoo at start with one line instead of falling back silently.
"""

import configparser
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from peak_dev.processes import Child, free_port, wait_for_http
from peak_dev.redis import RedisServer

CONFIG = os.environ.get("PEAK_TEST_ODOO_CONFIG")
DB = os.environ.get("PEAK_TEST_DB")
pytestmark = pytest.mark.skipif(
    not (CONFIG and DB), reason="needs `make test` (PEAK_TEST_ODOO_CONFIG)"
)
ODOO_BIN = Path(os.environ.get("ODOO_SRC", "/opt/odoo")) / "odoo-bin"
PREFIX = "e2e-outage:"
TIMEOUT_S = 1.0  # the store's socket and connect timeouts
RETRY_S = 1.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A private Redis (stopped at first) and Odoo with 2 workers using it."""
    workdir = tmp_path_factory.mktemp("session-outage")
    redis_server = RedisServer(workdir / "redis")
    redis_server.start()
    redis_server.stop()  # Odoo must start without it
    port = free_port()
    env = dict(
        os.environ,
        PEAK_REDIS_URL=redis_server.url,
        PEAK_REDIS_PREFIX=PREFIX,
        PEAK_REDIS_SOCKET_TIMEOUT=str(TIMEOUT_S),
        PEAK_REDIS_CONNECT_TIMEOUT=str(TIMEOUT_S),
        PEAK_REDIS_RETRY_INTERVAL=str(RETRY_S),
    )
    odoo = Child(
        "odoo",
        [
            sys.executable,
            str(ODOO_BIN),
            "-c",
            CONFIG,
            "-d",
            DB,
            "--workers=2",
            "--max-cron-threads=0",
            f"--http-port={port}",
            f"--gevent-port={free_port()}",
            "--http-interface=127.0.0.1",
            "--log-level=info",
        ],
        workdir / "odoo.log",
        env=env,
    )
    odoo.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/web/health", 120, odoo.proc)
        yield base, redis_server, odoo
    finally:
        odoo.stop(grace_s=10)
        redis_server.stop()


def _rpc(base, path, params, sid=None):
    return requests.post(
        f"{base}{path}",
        data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}),
        headers={"Content-Type": "application/json"},
        cookies={"session_id": sid} if sid else None,
        timeout=10,
    )


def _login(base):
    return _rpc(
        base,
        "/web/session/authenticate",
        {"db": DB, "login": "admin", "password": "admin"},
    )


def _tracebacks(log: str) -> list[str]:
    """Each traceback of the log (until the next timestamped line)."""
    blocks, current = [], None
    for line in log.splitlines():
        if line.startswith("Traceback"):
            current = []
            blocks.append(current)
        elif current is not None and line[:2] == "20":
            current = None
        elif current is not None:
            current.append(line)
    return ["\n".join(block) for block in blocks]


def test_outage_503_health_and_recovery_without_restart(stack):
    base, redis_server, odoo = stack
    some_sid = "A" * 84  # well-formed: the store must be asked

    health = requests.get(f"{base}/web/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "pass"
    with_cookie = requests.get(
        f"{base}/web/health", cookies={"session_id": some_sid}, timeout=10
    )
    assert with_cookie.status_code == 200, "health needs no session"

    started = time.monotonic()
    page = requests.get(
        f"{base}/odoo",
        cookies={"session_id": some_sid},
        allow_redirects=False,
        timeout=10,
    )
    assert time.monotonic() - started < 2 * TIMEOUT_S + 1
    assert page.status_code == 503
    assert "session store unavailable" in page.text
    assert page.headers.get("Retry-After")

    login = _login(base)  # rotating the new session needs Redis
    assert login.status_code == 503
    assert login.json()["error"]["message"] == "session store unavailable"

    redis_server.start()  # same port, empty
    deadline = time.monotonic() + RETRY_S + 5
    while True:
        login = _login(base)
        if login.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert login.status_code == 200, login.text
    assert login.json()["result"]["uid"], "logged in, Odoo never restarted"
    sid = login.cookies["session_id"]
    # No PEAK_REDIS_KEY_SECRET here: the server generated its secret in its
    # data_dir, once for both workers (which share the session below).
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG)
    secret_file = Path(parser["options"]["data_dir"]) / "peak_session_redis.key"
    assert secret_file.stat().st_mode & 0o077 == 0
    secret = secret_file.read_text().strip().encode()
    digest = hmac.new(secret, sid[:42].encode(), hashlib.sha256).hexdigest()
    key = PREFIX + "s:" + digest
    client = redis_server.client()
    assert client.exists(key)
    assert 0 < client.ttl(key) <= 7 * 86400

    # Whichever of the 2 workers answers, it finds the session in Redis (a
    # worker that saw the outage retries Redis after RETRY_S at the latest).
    time.sleep(RETRY_S + 0.2)
    for _i in range(12):
        info = _rpc(base, "/web/session/get_session_info", {}, sid)
        assert info.status_code == 200
        assert info.json()["result"]["uid"] == login.json()["result"]["uid"]

    log = Path(odoo.log_path).read_text(errors="replace")
    assert "HTTP sessions in Redis" in log
    assert "unreachable" in log and "reachable again" in log
    assert "Exception during request handling" not in log
    assert not [
        block for block in _tracebacks(log) if "redis" in block or "http.py" in block
    ]


def test_bad_redis_setting_stops_odoo_with_one_line(tmp_path):
    """A typo must not silently fall back to per-server filesystem sessions."""
    done = subprocess.run(
        [
            sys.executable,
            str(ODOO_BIN),
            "-c",
            CONFIG,
            "-d",
            DB,
            "--stop-after-init",
            f"--http-port={free_port()}",
            "--http-interface=127.0.0.1",
        ],
        env=dict(
            os.environ,
            PEAK_REDIS_URL="http://redis.example:6379/0",
            PEAK_REDIS_PASSWORD="never-logged",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-2000:]
    critical = [line for line in output.splitlines() if "CRITICAL" in line]
    assert len(critical) == 1 and "must use scheme redis" in critical[0], critical
    assert "never-logged" not in output
