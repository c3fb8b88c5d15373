# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Bad configuration: one clear error at start, attachments in the filestore."""

import os
from unittest import mock

from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from ..lib import runtime
from .s3_server import s3_environ, shared_seaweed

LOGGER = "odoo.addons.peak_attachment_s3.lib.runtime"


@tagged("post_install", "-at_install")
class TestBadConfig(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.good = s3_environ(shared_seaweed(), "bad-config/{db}/")

    def tearDown(self):
        runtime.reset()
        super().tearDown()

    def _check(self, fragment, **changes):
        env = dict(self.good, **{k: v for k, v in changes.items() if v is not None})
        for key, value in changes.items():
            if value is None:
                env.pop(key)
        with mock.patch.dict(os.environ, env):
            for key in [k for k in os.environ if k.startswith("PEAK_S3_")]:
                if key not in env:
                    del os.environ[key]
            runtime.reset()
            attachments = self.env["ir.attachment"]
            with self.assertLogs(LOGGER, "ERROR") as logs:
                attachments._register_hook()  # what every process does at start
            self.assertIn(fragment, "\n".join(logs.output))
            self.assertEqual(attachments._storage(), "file")
            raw = os.urandom(200)
            attachment = attachments.create(
                {"name": "while misconfigured.pdf", "raw": raw}
            )
            self.assertFalse(attachment.store_fname.startswith("s3://"))
            self.assertTrue(
                os.path.exists(attachments._full_path(attachment.store_fname))
            )
            attachment.invalidate_recordset()
            self.assertEqual(attachment.raw, raw)
            health = attachments._peak_s3_health()
            self.assertEqual(health["status"], "misconfigured")
            self.assertIn(fragment, health["error"])

    def test_no_bucket(self):
        self._check("no bucket", PEAK_S3_BUCKET=None)

    def test_bad_endpoint(self):
        self._check("is not an http(s) URL", PEAK_S3_ENDPOINT_URL="ftp://s3.example")

    def test_bad_prefix_placeholder(self):
        self._check(
            "unknown placeholder(s) {database}", PEAK_S3_KEY_PREFIX="o/{database}/"
        )

    def test_bad_number(self):
        self._check(
            "PEAK_S3_CONNECT_TIMEOUT='soon' is not a number",
            PEAK_S3_CONNECT_TIMEOUT="soon",
        )

    def test_bucket_that_does_not_exist(self):
        self._check("is not usable (not_found)", PEAK_S3_BUCKET="no-such-bucket-here")

    def test_location_parameter_alone_turns_s3_on(self):
        env = dict(self.good)
        env.pop("PEAK_S3_ENABLED")
        with mock.patch.dict(os.environ, env):
            os.environ.pop("PEAK_S3_ENABLED", None)
            runtime.reset()
            attachments = self.env["ir.attachment"]
            self.assertEqual(attachments._storage(), "file")
            self.env["ir.config_parameter"].set_param("ir_attachment.location", "s3")
            self.assertEqual(attachments._storage(), "s3")
            os.environ["PEAK_S3_ENABLED"] = "0"  # the environment wins
            runtime.reset()
            self.assertEqual(attachments._storage(), "file")
