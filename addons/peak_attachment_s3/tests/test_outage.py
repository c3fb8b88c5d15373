# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""S3 stopped and started again, on a SeaweedFS of this test's own."""

import os
import time

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..lib import metrics
from .common import S3Case
from .s3_server import SeaweedS3, private_seaweed

# Bounded: connect timeout 1 s, 2 attempts (see s3_environ) plus backoff.
FAIL_FAST_S = 15


def _value(metric):
    return metric._value.get()


@tagged("post_install", "-at_install")
class TestS3Outage(S3Case):
    @classmethod
    def s3_server(cls):
        return private_seaweed()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(grace_s=3)
        super().tearDownClass()

    def _create(self, raw, name):
        return self.Attachment.create(
            {"name": name, "raw": raw, "mimetype": "application/pdf"}
        )

    def test_outage_fails_clearly_then_recovers_without_restart(self):
        before, during = os.urandom(512), os.urandom(512)
        saved = self._create(before, "before-outage.pdf")
        # An upload asks first whether the object is there (HEAD), then puts.
        upload_errors = [
            metrics.S3_OPERATION_ERRORS.labels(operation, "connection")
            for operation in ("head", "put")
        ]
        errors_before = sum(_value(m) for m in upload_errors)
        self.server.stop(grace_s=3)

        started = time.monotonic()
        with self.assertRaises(UserError) as upload, self.cr.savepoint():
            self._create(during, "during-outage.pdf")
        self.assertLess(time.monotonic() - started, FAIL_FAST_S)
        self.assertIn("S3 attachment storage is unavailable", str(upload.exception))
        self.assertFalse(
            self.Attachment.search([("name", "=", "during-outage.pdf")]),
            "the failed upload must leave no row behind",
        )
        self.assertGreater(sum(_value(m) for m in upload_errors), errors_before)

        saved.invalidate_recordset()
        with self.assertRaises(UserError) as download:
            saved.raw  # noqa: B018 - the read itself is the test
        self.assertIn("could not be read", str(download.exception))

        health = self.Attachment._peak_s3_health()
        self.assertEqual(health["status"], "degraded")
        self.assertTrue(health["error"])
        self.assertEqual(_value(metrics.S3_DEGRADED), 1)

        # Same data directory and port: what a restarted S3 service looks like.
        server = SeaweedS3(
            self.server.data_dir,
            s3_port=self.server.s3_port,
            bucket=self.server.credentials.bucket,
        ).start()
        type(self).server = server

        saved.invalidate_recordset()
        self.assertEqual(saved.raw, before)
        self.assertEqual(self.Attachment._peak_s3_health()["status"], "ok")
        self.assertEqual(_value(metrics.S3_DEGRADED), 0)
        again = self._create(during, "after-outage.pdf")
        self.assertTrue(again.store_fname.startswith("s3://"))
        self.assertEqual(self.object_bytes(again.checksum), during)
