"""Odoo's websocket (gevent) process, as `make run` and the images start it,
and the edge in front of it (Traefik, scripts/peak_dev/edge.py).

It once crash-looped at import (gevent 22.10.2's plugin loader could not find
zope.interface), restarting ~140 times a minute while HTTP looked healthy; and
`make run` once had no edge, so the browser's bus went to an HTTP worker:
"Real-time connection lost" and a 5xx per attempt.
"""

import configparser
import os
import time

import pytest
from browser import Browser
from peak_dev.edge import Edge
from peak_dev.odoo import OdooServer, write_config
from peak_dev.processes import free_port, wait_for_http
from peak_dev.settings import load

DB = os.environ.get("PEAK_TEST_DB")
pytestmark = pytest.mark.skipif(not DB, reason="needs `make test` (PEAK_TEST_DB)")
#: How long the browser session lasts; its bus connection must last as long.
SESSION_S = 12


@pytest.fixture(scope="module")
def prefork(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("websocket-prefork")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.environ["PEAK_TEST_ODOO_CONFIG"])
    settings = load()
    http_port, gevent_port = free_port(), free_port()
    config = write_config(
        settings,
        workdir / "odoo.conf",
        DB,
        data_dir=parser["options"]["data_dir"],
        workers=2,
        max_cron_threads=0,
        http_port=http_port,
        gevent_port=gevent_port,
        http_interface="127.0.0.1",
    )
    server = OdooServer(settings, config, DB, workdir / "odoo.log")
    server.env = {**os.environ, "ODOO_QUEUE_JOB_MAX_CAPACITY": "0"}
    server.start()
    try:
        wait_for_http(f"http://127.0.0.1:{http_port}/web/health", 120, server.proc)
        yield http_port, gevent_port, server
    finally:
        server.stop()


def test_websocket_process_serves_and_stays_up(prefork):
    _http_port, gevent_port, server = prefork
    # Served by the gevent process itself, not by an HTTP worker.
    wait_for_http(f"http://127.0.0.1:{gevent_port}/websocket/health", 60, server.proc)
    log = server.log_path.read_text(errors="replace")
    assert "DistributionNotFound" not in log
    assert "Traceback" not in log, log[-3000:]


def _login(browser: Browser, base: str) -> None:
    browser.open(f"{base}/web/login")
    since = len(browser.events)
    browser.evaluate(
        "(() => { const form = document.querySelector('form.oe_login_form');"
        " form.login.value = 'admin'; form.password.value = 'admin';"
        " form.submit(); })()"
    )
    browser.wait_for("Page.loadEventFired", 60, since)


def test_a_browser_behind_the_edge_keeps_its_bus_connection(prefork, tmp_path):
    http_port, gevent_port, server = prefork
    wait_for_http(f"http://127.0.0.1:{gevent_port}/websocket/health", 60, server.proc)
    edge = Edge(tmp_path / "traefik", free_port(), http_port, gevent_port).start()
    try:
        browser = Browser()
        try:
            _login(browser, edge.url)
            assert browser.evaluate("location.pathname").startswith("/odoo")
            browser.listen(SESSION_S)  # the web client idles, its bus connected
            browser.open(f"{edge.url}/odoo/settings")  # a second page, a new bus
            browser.listen(3)
        finally:
            browser.close()  # ends the last bus connection: Traefik logs it
        deadline = time.monotonic() + 15
        sockets = []
        while len(sockets) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            requests = edge.requests()
            sockets = [r for r in requests if r["RequestPath"].startswith("/websocket")]
    finally:
        edge.stop()
    assert requests, "nothing went through the edge"
    statuses = [(r["RequestPath"], r["DownstreamStatus"]) for r in requests]
    assert [s for s in statuses if s[1] >= 500] == [], statuses
    # Each page's bus was upgraded by the gevent process and stayed up: the
    # first for the whole idle session.
    assert sockets, f"no bus connection went through the edge: {statuses}"
    # An upgraded connection is logged when it ends, with no HTTP status (0).
    assert {r["DownstreamStatus"] for r in sockets} <= {0, 101}, sockets
    assert {r["RouterName"].split("@")[0] for r in sockets} == {"odoo-websocket"}
    assert max(r["Duration"] for r in sockets) / 1e9 >= SESSION_S - 1, sockets
    log = server.log_path.read_text(errors="replace")
    assert "Couldn't bind the websocket" not in log
