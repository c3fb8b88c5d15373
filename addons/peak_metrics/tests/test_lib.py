# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""peak_metrics' pure modules: settings, access, route groups, labels, cache."""

import ipaddress
import threading
import time

import pytest

from odoo.addons.peak_metrics.lib import access, collector, labels, routes
from odoo.addons.peak_metrics.lib import config as cfg

TOKEN = "s3cret-token-0123456789"


def test_env_wins_over_config_section_over_default():
    env = {"PEAK_METRICS_CACHE_SECONDS": "3"}
    section = {"cache_seconds": "30", "statement_timeout_ms": "500"}
    loaded = cfg.load(env, section)
    assert loaded.cache_seconds == 3.0
    assert loaded.statement_timeout_ms == 500
    assert loaded.token == ""
    assert loaded.sources == {
        "token": "default",
        "allow": "default",
        "cache_seconds": "env",
        "statement_timeout_ms": "config",
        "integration_channels": "default",
    }
    assert cfg.load({}, {}).cache_seconds == cfg.DEFAULT_CACHE_SECONDS


@pytest.mark.parametrize(
    "env, message",
    [
        ({"PEAK_METRICS_TOKEN": "short"}, "at least 16"),
        ({"PEAK_METRICS_ALLOW": "10.0.0.0/8,nonsense"}, "'nonsense'"),
        ({"PEAK_METRICS_CACHE_SECONDS": "ten"}, "not a number"),
        ({"PEAK_METRICS_CACHE_SECONDS": "-1"}, "between"),
        ({"PEAK_METRICS_STATEMENT_TIMEOUT_MS": "10"}, "between"),
        ({"PEAK_METRICS_INTEGRATION_CHANNELS": "edi"}, "not a channel"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(env, message):
    with pytest.raises(cfg.MetricsConfigError, match=message):
        cfg.load(env, {})


def test_masked_settings_never_show_the_token():
    loaded = cfg.load({"PEAK_METRICS_TOKEN": TOKEN}, {})
    assert TOKEN not in repr(loaded.masked())
    assert loaded.masked()["token"] == "***"


def test_no_token_means_disabled_with_403():
    decision = access.check(cfg.load({}, {}), f"Bearer {TOKEN}", "127.0.0.1")
    assert (decision.status, decision.message) == (403, access.DISABLED_MESSAGE)


@pytest.mark.parametrize(
    "header, status",
    [
        (None, 401),
        ("", 401),
        ("Basic abc", 401),
        ("Bearer", 401),
        ("Bearer wrong-token-0123456789", 401),
        (f"Bearer {TOKEN}x", 401),
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
    ],
)
def test_token(header, status):
    loaded = cfg.load({"PEAK_METRICS_TOKEN": TOKEN}, {})
    assert access.check(loaded, header, "10.1.2.3").status == status


def test_allow_list_is_checked_before_the_token():
    loaded = cfg.load(
        {"PEAK_METRICS_TOKEN": TOKEN, "PEAK_METRICS_ALLOW": "10.0.0.0/8, ::1"}, {}
    )
    assert loaded.allow == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    good = f"Bearer {TOKEN}"
    assert access.check(loaded, good, "10.9.8.7").status == 200
    assert access.check(loaded, good, "::1").status == 200
    assert access.check(loaded, good, "192.168.1.1").status == 403
    assert access.check(loaded, good, None).status == 403
    assert access.check(loaded, None, "192.168.1.1").status == 403
    assert access.check(loaded, None, "10.0.0.1").status == 401


def test_the_allow_list_reads_the_peer_never_x_forwarded_for():
    # What werkzeug's ProxyFix leaves in the environ under proxy_mode.
    fixed = {
        "REMOTE_ADDR": "10.1.2.3",  # from X-Forwarded-For
        "werkzeug.proxy_fix.orig": {"REMOTE_ADDR": "203.0.113.9"},
    }
    assert access.peer_address(fixed) == "203.0.113.9"
    assert access.peer_address({"REMOTE_ADDR": "10.1.2.3"}) == "10.1.2.3"


@pytest.mark.parametrize(
    "path, group",
    [
        ("/metrics", "metrics"),
        ("/metrics/", "metrics"),
        ("/metricsfoo", "other"),
        ("/web/health", "health"),
        ("/queue_job/runjob", "queue_job_runjob"),
        ("/web/dataset/call_kw/sale.order/action_confirm", "json_rpc"),
        ("/jsonrpc", "external_rpc"),
        ("/xmlrpc/2/object", "external_rpc"),
        ("/web/assets/1/web.assets_web.min.js", "assets"),
        ("/web/static/img/logo.png", "assets"),
        ("/sale/static/src/x.js", "assets"),
        ("/odoo/sales/42", "web_client"),
        ("/web", "web_client"),
        ("/web/login", "session"),
        ("/websocket", "websocket"),
        ("/report/pdf/stock.report_picking/42", "report"),
        ("/shop/product/42", "other"),
        ("", "other"),
    ],
)
def test_route_groups_are_bounded(path, group):
    assert routes.route_group(path) == group
    assert routes.route_group(path) in routes.ROUTE_GROUPS


@pytest.mark.parametrize(
    "status, expected",
    [
        ("200 OK", "2xx"),
        (404, "4xx"),
        ("503 Busy", "5xx"),
        ("abc", "5xx"),
        (999, "5xx"),
    ],
)
def test_status_class(status, expected):
    assert routes.status_class(status) == expected


def test_channel_labels_are_bounded(monkeypatch):
    monkeypatch.setattr(labels, "_seen", set())
    names = [
        labels.bounded_channel(f"root.c{i}") for i in range(labels.MAX_CHANNELS + 5)
    ]
    assert names[: labels.MAX_CHANNELS] == [
        f"root.c{i}" for i in range(labels.MAX_CHANNELS)
    ]
    assert set(names[labels.MAX_CHANNELS :]) == {labels.OTHER}
    assert labels.bounded_channel("root.c0") == "root.c0"


def test_channel_classes_inherit_from_the_closest_ancestor():
    rows = [
        (1, "root", None, None),
        (2, "root.bulk", 1, "bulk"),
        (3, "root.bulk.import", 2, None),
        (4, "root.bulk.import.urgent", 3, "critical"),
        (5, "root.misc", 1, None),
    ]
    classes = collector.channel_classes(rows)
    assert classes == {
        "root": "operational",
        "root.bulk": "bulk",
        "root.bulk.import": "bulk",
        "root.bulk.import.urgent": "critical",
        "root.misc": "operational",
    }
    # A job in a channel that has no record takes its closest ancestor's class.
    assert collector.class_of("root.bulk.import.x.y", classes) == "bulk"
    assert collector.class_of("", classes) == "operational"
    assert collector.class_of("elsewhere", classes) == "operational"


def test_effective_capacity_is_queue_jobs():
    rows = [
        (1, "root", None, 0),  # the job runner's max capacity
        (2, "root.bulk", 1, 3),
        (3, "root.bulk.import", 2, 0),  # its parent's
        (4, "root.bulk.wide", 2, 9),  # within its parent's
        (5, "root.edi", 1, 2),
    ]
    assert collector.effective_capacities(rows, root_capacity=4) == {
        "root": 4,
        "root.bulk": 3,
        "root.bulk.import": 3,
        "root.bulk.wide": 3,
        "root.edi": 2,
    }
    # root's own capacity lowers the runner's, never raises it.
    assert collector.effective_capacities([(1, "root", None, 8)], 2) == {"root": 2}
    assert collector.effective_capacities([(1, "root", None, 1)], 2) == {"root": 1}


def test_scrape_cache_collects_once_per_period_even_when_concurrent():
    cache = collector.ScrapeCache()
    calls = []

    def produce():
        calls.append(1)
        time.sleep(0.05)
        return b"x"

    threads = [
        threading.Thread(target=cache.get, args=("db", 5.0, produce)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    text, age, fresh = cache.get("db", 5.0, produce)
    assert (text, fresh, len(calls)) == (b"x", False, 1)
    assert age > 0
    assert cache.get("db", 0.0, produce)[2] is True  # period 0: always fresh
    assert len(calls) == 2
