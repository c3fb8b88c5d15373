# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Sessions in Redis behind Odoo's real HTTP server (HttpCase, real Redis)."""

import json
import os
import secrets
import time

from odoo import http
from odoo.tests import HttpCase, get_db_name, tagged
from odoo.tests.common import JsonRpcException

from odoo.addons.peak_session_redis import hooks
from odoo.addons.peak_session_redis.lib import metrics
from odoo.addons.peak_session_redis.lib.config import StoreConfig
from odoo.addons.peak_session_redis.lib.store import RedisSessionStore

from .common import command_calls, private_redis

MAX_INACTIVITY_S = 5000


@tagged("post_install", "-at_install")
class TestSessionsInRedis(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis_server = private_redis()
        cls.redis = cls.redis_server.client()
        cls.prefix = f"http{secrets.token_hex(3)}:"
        cls.store = hooks.install(
            StoreConfig(
                url=cls.redis_server.url,
                prefix=cls.prefix,
                socket_timeout=0.5,
                connect_timeout=0.5,
                anonymous_ttl=900,
                retry_interval=0.5,
            )
        )
        cls.addClassCleanup(hooks.uninstall)
        cls.env["ir.config_parameter"].sudo().set_param(
            "sessions.max_inactivity_seconds", str(MAX_INACTIVITY_S)
        )

    def _set_sid(self, sid=None):
        """Send ``sid`` as the only session cookie (None: no session cookie)."""
        jar = self.opener.cookies
        for cookie in [c for c in jar if c.name == "session_id"]:
            jar.clear(cookie.domain, cookie.path, cookie.name)
        if sid:
            jar.set("session_id", sid)

    def _login(self, sid=None):
        self._set_sid(sid)
        response = self.url_open(
            "/web/session/authenticate",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {
                        "db": get_db_name(),
                        "login": "admin",
                        "password": "admin",
                    },
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        response.raise_for_status()
        self.assertEqual(
            response.json()["result"]["uid"], self.env.ref("base.user_admin").id
        )
        sid = response.cookies["session_id"]
        self._set_sid(sid)
        return sid

    def _key(self, sid):
        return self.store.key(sid)

    def _logged_in_as(self, sid):
        """The uid the server sees for cookie ``sid`` (None: anonymous)."""
        self._set_sid(sid)
        try:
            info = self.make_jsonrpc_request("/web/session/get_session_info")
        except JsonRpcException:  # auth='user' route: session expired
            return None
        return info.get("uid")

    def test_login_logout_ttl_and_rotation(self):
        self.assertIsInstance(http.root.session_store, RedisSessionStore)
        self.assertIs(http.root.session_store, hooks.current_store())
        anonymous = self.store.generate_key()
        sid = self._login(anonymous)
        self.assertNotEqual(sid, anonymous, "login rotates the session id")
        key = self._key(sid)
        self.assertTrue(self.redis.exists(key), "session stored under the prefix")
        ttl = self.redis.ttl(key)
        self.assertTrue(MAX_INACTIVITY_S - 10 <= ttl <= MAX_INACTIVITY_S, ttl)
        self.assertEqual(self._logged_in_as(sid), self.env.ref("base.user_admin").id)
        self.url_open("/web/session/logout", allow_redirects=False)
        self.assertFalse(self.redis.exists(key), "logout deleted it")
        self.assertIsNone(self._logged_in_as(sid))

    def test_device_revoke_removes_the_session(self):
        sid = self._login()
        admin = self.env.ref("base.user_admin")
        self.env["res.device.log"].create(
            {
                "session_identifier": sid[:42],
                "user_id": admin.id,
                "platform": "linux",
                "browser": "chrome",
                "ip_address": "127.0.0.1",
                "first_activity": "2026-01-01 00:00:00",
                "last_activity": "2026-01-01 00:00:00",
                "revoked": False,  # the device view ignores NULL
            }
        )
        self.env.flush_all()
        device = self.env["res.device"].search([("session_identifier", "=", sid[:42])])
        self.assertTrue(device)
        device._revoke()  # what Settings > Users > Devices > Revoke runs
        self.assertFalse(self.redis.exists(self._key(sid)))
        self.assertIsNone(self._logged_in_as(sid))

    def test_log_out_all_devices_deletes_keys_by_name(self):
        admin = self.env.ref("base.user_admin")
        sids = [self._login() for _i in range(2)]
        for sid in sids:  # an authenticated request logs the device
            self.assertEqual(self._logged_in_as(sid), admin.id)
        self.env.flush_all()
        before = command_calls(self.redis)
        admin._action_revoke_all_devices()  # Settings: "Log out from all devices"
        after = command_calls(self.redis)
        for sid in sids:
            self.assertFalse(self.redis.exists(self._key(sid)))
            self.assertIsNone(self._logged_in_as(sid))
        self.assertGreater(after.get("del", 0), before.get("del", 0))
        for scanning in ("scan", "keys"):
            self.assertEqual(after.get(scanning, 0), before.get(scanning, 0))

    def test_session_gc_leaves_redis_to_its_ttl(self):
        sid = self._login()
        self.env["ir.http"]._gc_sessions()  # Odoo's autovacuum
        self.assertEqual(self._logged_in_as(sid), self.env.ref("base.user_admin").id)

    def test_password_change_rotates_the_session(self):
        admin = self.env.ref("base.user_admin")
        sid = self._login()
        self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.users/change_password",
            {
                "model": "res.users",
                "method": "change_password",
                "args": ["admin", "admin-new-password"],
                "kwargs": {},
            },
        )
        # The old sid's token no longer matches: Odoo logs it out and rotates
        # it through the store; the old key is gone.
        self._set_sid(sid)
        response = self.url_open("/odoo", allow_redirects=False)
        self.assertIn("/web/login", response.headers.get("Location", ""))
        self.assertFalse(self.redis.exists(self._key(sid)))
        self.assertNotEqual(response.cookies.get("session_id"), sid)
        self.assertIsNone(self._logged_in_as(sid))
        admin.password = "admin"

    def test_filesystem_session_survives_the_switch(self):
        hooks.uninstall()
        try:
            self.assertIsInstance(http.root.session_store, http.FilesystemSessionStore)
            sid = self._login()
            path = http.root.session_store.get_session_filename(sid)
        finally:
            hooks.install(self.store.config)
        self.assertIsInstance(http.root.session_store, RedisSessionStore)
        self.assertEqual(self._logged_in_as(sid), self.env.ref("base.user_admin").id)
        self.assertTrue(self.redis.exists(self._key(sid)))
        self.assertFalse(os.path.exists(path), "moved to Redis")

    def test_malformed_session_cookies_never_reach_redis(self):
        victim = self._login()
        before = command_calls(self.redis)
        for bad in (
            "../../etc/passwd",
            "A" * 5000,
            victim + "A",
            victim[:83] + "*",
            "other:" + victim[:78],
        ):
            self._set_sid(bad)
            self.assertEqual(self.url_open("/web/health").status_code, 200)
            page = self.url_open("/web/login")
            self.assertEqual(page.status_code, 200)
            self.assertNotIn(bad, page.cookies.get("session_id", ""))
        self.assertEqual(command_calls(self.redis), before)
        self.assertEqual(self._logged_in_as(victim), self.env.ref("base.user_admin").id)

    def test_unreachable_redis_answers_503_and_health_still_answers(self):
        sid = self._login()
        dead = private_redis("dead")
        dead.stop()
        hooks.install(
            StoreConfig(
                url=dead.url,
                prefix=self.prefix,
                socket_timeout=0.5,
                connect_timeout=0.5,
                retry_interval=0.5,
            )
        )
        answered_503 = metrics.FALLBACKS.labels("unavailable_503")._value.get()
        try:
            self._set_sid(sid)
            started = time.monotonic()
            page = self.url_open("/odoo", allow_redirects=False)
            self.assertLess(time.monotonic() - started, 3)
            self.assertEqual(page.status_code, 503)
            self.assertIn("session store unavailable", page.text)
            self.assertNotIn("Traceback", page.text)
            rpc = self.url_open(
                "/web/session/get_session_info",
                data=b'{"jsonrpc": "2.0", "method": "call", "params": {}}',
                headers={"Content-Type": "application/json"},
            )
            self.assertEqual(rpc.status_code, 503)
            self.assertEqual(
                rpc.json()["error"]["message"], "session store unavailable"
            )
            health = self.url_open("/web/health")
            self.assertEqual(health.status_code, 200)
            self.assertEqual(health.json()["status"], "pass")
            settings = self.env["res.config.settings"].create({})
            self.assertIn("UNREACHABLE", settings.peak_session_store_health)
            self.assertGreaterEqual(
                metrics.FALLBACKS.labels("unavailable_503")._value.get(),
                answered_503 + 2,
            )
        finally:
            hooks.install(self.store.config)
        time.sleep(0.6)
        self.assertEqual(self._logged_in_as(sid), self.env.ref("base.user_admin").id)
        settings = self.env["res.config.settings"].create({})
        self.assertIn("healthy", settings.peak_session_store_health)
        self.assertIn(self.prefix, settings.peak_session_store)


@tagged("post_install", "-at_install")
class TestSessionSettingsTour(HttpCase):
    def test_settings_show_the_store_on_first_load(self):
        server = private_redis()
        store = hooks.install(StoreConfig(url=server.url, prefix="tour:"))
        self.addCleanup(hooks.uninstall)
        self.start_tour(
            "/odoo/settings", "peak_session_redis_settings_tour", login="admin"
        )
        # The tour's own login went through the store it read.
        self.assertTrue(server.client().keys("tour:*"))
        self.assertIs(hooks.current_store(), store)
