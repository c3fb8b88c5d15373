"""Odoo's websocket (gevent) process, as `make run` and the images start it.

It once crash-looped at import (gevent 22.10.2's plugin loader could not find
zope.interface), restarting ~140 times a minute while HTTP looked healthy.
"""

import configparser
import os

import pytest
from peak_dev.odoo import OdooServer, write_config
from peak_dev.processes import free_port, wait_for_http
from peak_dev.settings import load

DB = os.environ.get("PEAK_TEST_DB")


@pytest.mark.skipif(not DB, reason="needs `make test` (PEAK_TEST_DB)")
def test_websocket_process_serves_and_stays_up(tmp_path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.environ["PEAK_TEST_ODOO_CONFIG"])
    settings = load()
    http_port, gevent_port = free_port(), free_port()
    config = write_config(
        settings,
        tmp_path / "odoo.conf",
        DB,
        data_dir=parser["options"]["data_dir"],
        workers=2,
        max_cron_threads=0,
        http_port=http_port,
        gevent_port=gevent_port,
        http_interface="127.0.0.1",
    )
    server = OdooServer(settings, config, DB, tmp_path / "odoo.log")
    server.env = {**os.environ, "ODOO_QUEUE_JOB_MAX_CAPACITY": "0"}
    server.start()
    try:
        wait_for_http(f"http://127.0.0.1:{http_port}/web/health", 120, server.proc)
        # Served by the gevent process itself, not by an HTTP worker.
        wait_for_http(
            f"http://127.0.0.1:{gevent_port}/websocket/health", 60, server.proc
        )
    finally:
        server.stop()
    log = (tmp_path / "odoo.log").read_text(errors="replace")
    assert "DistributionNotFound" not in log
    assert "Traceback" not in log, log[-3000:]
