"""pytest plugin of tests/test_odoo_suites.py: Odoo's own suites run with the
Redis session store (installed as post_load installs it in a server, and in
place of the in-memory store test_http's TestHttpBase swaps in) and S3
attachments on (``PEAK_S3_*`` in the environment)."""

import threading


class _Keys:
    """``store.clear()``, which TestHttpBase calls before each test."""

    def __init__(self, store):
        self._store = store

    def clear(self):
        client = self._store.client
        for key in client.scan_iter(match=self._store.prefix + "*", count=1000):
            client.delete(key)


def _redis_store_for_test_http(session_class):
    from odoo.addons.peak_session_redis.lib import config
    from odoo.addons.peak_session_redis.lib.store import RedisSessionStore

    store = RedisSessionStore(config.load(), session_class)
    store.store = _Keys(store)
    return store


def pytest_sessionstart(session):
    # After pytest-odoo read the configuration, before the first test class.
    from odoo.tools import config as odoo_config

    from odoo.addons.peak_session_redis import hooks
    from odoo.addons.peak_session_redis.lib import config
    from odoo.addons.test_http.tests import test_common

    # As Odoo's own runner does before its tests (ir.http's routing map
    # reads it).
    threading.current_thread().dbname = odoo_config["db_name"]
    store = hooks.install(config.load())
    assert store.config.enabled, "PEAK_REDIS_URL is not set"
    test_common.MemorySessionStore = _redis_store_for_test_http


def pytest_sessionfinish(session, exitstatus):
    from odoo.addons.peak_session_redis import hooks

    hooks.uninstall()
