# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""An open websocket (bus) while Redis goes away: closed with TRY_LATER."""

import secrets

from odoo.tests import tagged

from odoo.addons.bus.tests.common import WebsocketCase
from odoo.addons.bus.websocket import CloseCode
from odoo.addons.peak_session_redis import hooks
from odoo.addons.peak_session_redis.lib.config import StoreConfig

from .common import private_redis


@tagged("post_install", "-at_install")
class TestWebsocketDuringOutage(WebsocketCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = StoreConfig(
            url=private_redis().url,
            prefix=f"ws{secrets.token_hex(3)}:",
            socket_timeout=0.5,
            connect_timeout=0.5,
            retry_interval=0.5,
        )
        hooks.install(cls.config)
        cls.addClassCleanup(hooks.uninstall)

    def test_open_websocket_is_told_to_try_later(self):
        websocket = self.websocket_connect()  # its session is in Redis
        self.subscribe(
            websocket, ["peak_session_channel"], self.env["bus.bus"]._bus_last_id()
        )
        dead = private_redis("dead-ws")
        dead.stop()
        hooks.install(
            StoreConfig(
                url=dead.url,
                prefix=self.config.prefix,
                socket_timeout=0.5,
                connect_timeout=0.5,
                retry_interval=0.5,
            )
        )
        try:
            self.env["bus.bus"]._sendone("peak_session_channel", "peak/test", {})
            self.trigger_notification_dispatching(["peak_session_channel"])
            self.assert_close_with_code(
                websocket, CloseCode.TRY_LATER, "session store unavailable"
            )
        finally:
            hooks.install(self.config)
