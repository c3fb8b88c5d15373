# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Install the Redis store as ``odoo.http.root.session_store`` at post_load.

No Redis call happens here: Odoo starts while Redis is down, and the first
request that needs a session finds out (503, bounded by the timeouts).
"""

import dataclasses
import logging
import sys

from odoo import http
from odoo.tools import config as odoo_config
from odoo.tools.func import lazy_property

from .lib import config, keys
from .lib.store import RedisSessionStore, SessionStoreUnavailable
from .lib.unavailable import MESSAGE

_logger = logging.getLogger(__name__)

_state = {"store": None, "filesystem_fget": None, "patched": False}


def current_store():
    """The Redis store in use, or None (Odoo's filesystem store)."""
    return _state["store"]


def _patch_application():
    """Swap the lazy property itself, so a reset (lazy_property.reset_all)
    recomputes our store, not Odoo's; then drop the cached value."""
    if _state["filesystem_fget"] is None:
        _state["filesystem_fget"] = http.Application.session_store.fget
        filesystem_fget = _state["filesystem_fget"]

        def session_store(app):
            return _state["store"] or filesystem_fget(app)

        http.Application.session_store = lazy_property(session_store)
    http.root.__dict__.pop("session_store", None)


def _patch_request():
    """Health checks and static files answer while Redis is down."""
    if _state["patched"]:
        return
    original = http.Request._get_session_and_dbname

    def _get_session_and_dbname(self):
        store = _state["store"]
        path = self.httprequest.path
        if store is not None and (
            path == "/web/health" or http.root.get_static_file(path)
        ):
            with store.best_effort():
                return original(self)
        return original(self)

    http.Request._get_session_and_dbname = _get_session_and_dbname
    _state["patched"] = True


def patch_websocket():
    """An open websocket whose session cannot be read while Redis is down is
    closed with TRY_LATER (the client reconnects with backoff), not logged as
    a server error with a traceback. Called once the bus module is loaded
    (``_register_hook``); idempotent."""
    try:
        from odoo.addons.bus import websocket
    except ImportError:
        return
    original = websocket.Websocket._handle_transport_error
    if getattr(original, "_peak_session_redis", False):
        return

    def _handle_transport_error(self, exc):
        if isinstance(exc, SessionStoreUnavailable):
            return self.disconnect(websocket.CloseCode.TRY_LATER, MESSAGE)
        return original(self, exc)

    _handle_transport_error._peak_session_redis = True
    websocket.Websocket._handle_transport_error = _handle_transport_error


def install(store_config: config.StoreConfig) -> RedisSessionStore:
    """Use Redis for every later request of this process."""
    if not store_config.key_secret:
        secret = keys.secret_from_file(odoo_config["data_dir"])
        store_config = dataclasses.replace(store_config, key_secret=secret)
    store = RedisSessionStore(
        store_config,
        session_class=http.Session,
        filesystem_path=odoo_config.session_dir,
    )
    _state["store"] = store
    _patch_application()
    _patch_request()
    return store


def uninstall() -> None:
    """Back to Odoo's filesystem store (tests, rollback)."""
    _state["store"] = None
    http.root.__dict__.pop("session_store", None)


def post_load():
    section = odoo_config.misc.get(config.SECTION, {})
    try:
        store_config = config.load(section=section)
        if store_config.enabled:
            store = install(store_config)
    except (config.ConfigError, OSError, ValueError) as exc:
        # Silently falling back to the filesystem would split sessions
        # between workers: refuse to start, in one line.
        _logger.critical("peak_session_redis: %s", exc)
        sys.exit(2)
    if not store_config.enabled:
        _logger.info(
            "peak_session_redis: no PEAK_REDIS_URL or PEAK_REDIS_SENTINELS, "
            "HTTP sessions stay in Odoo's filesystem store (%s)",
            odoo_config.session_dir,
        )
        return
    _logger.info(
        "peak_session_redis: HTTP sessions in Redis, config %s",
        ", ".join(f"{k}={v}" for k, v in store.config.masked().items()),
    )
