# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""S3 stopped and started again, on a SeaweedFS of this test's own."""

import os
import signal
import time

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..lib import metrics
from .common import S3Case
from .s3_server import SeaweedS3, private_seaweed

# Bounded by the call deadline (PEAK_S3_CALL_TIMEOUT_SECONDS, 5 s), with a
# margin for a loaded machine.
FAIL_FAST_S = 8


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

    def test_a_frozen_s3_answers_within_the_deadline_then_fails_fast(self):
        """A brownout: the gateway accepts connections and never answers
        (SIGSTOP). Reads give up at the call deadline, then fail at once
        while S3 is down; what is not in S3 is served; S3 is tried again
        every retry interval and works again without a restart."""
        self.set_s3_env(call_timeout_seconds=1.5, retry_interval_seconds=3)
        raw = os.urandom(512)
        in_s3 = self._create(raw, "frozen.pdf")
        local = self.Attachment.with_context(peak_s3_force_db=True).create(
            {"name": "local.pdf", "raw": b"%PDF local", "mimetype": "application/pdf"}
        )
        gateway = self.server.gateway.proc.pid
        os.kill(gateway, signal.SIGSTOP)
        try:
            in_s3.invalidate_recordset()
            started = time.monotonic()
            with self.assertRaises(UserError) as first:
                in_s3.raw  # noqa: B018 - the read itself is the test
            self.assertLess(time.monotonic() - started, 3.0)  # deadline 1.5 s
            self.assertIn("unavailable (timeout)", str(first.exception))
            in_s3.invalidate_recordset()
            started = time.monotonic()
            with self.assertRaises(UserError) as second:
                in_s3.raw  # noqa: B018
            self.assertLess(time.monotonic() - started, 0.5)  # no S3 call
            self.assertIn("did not answer lately", str(second.exception))
            local.invalidate_recordset()
            self.assertEqual(local.raw, b"%PDF local")
        finally:
            os.kill(gateway, signal.SIGCONT)
        self._read_once_s3_is_back(in_s3, raw)
        self.set_s3_env()

    def _read_once_s3_is_back(self, attachment, raw, within=15):
        """Calls fail fast for the retry interval, then S3 is tried again."""
        deadline = time.monotonic() + within
        while True:
            attachment.invalidate_recordset()
            try:
                self.assertEqual(attachment.raw, raw)
                return
            except UserError as exc:
                self.assertIn("did not answer lately", str(exc))
                self.assertLess(time.monotonic(), deadline, "S3 never came back")
                time.sleep(0.5)

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

        self._read_once_s3_is_back(saved, before)
        self.assertEqual(self.Attachment._peak_s3_health()["status"], "ok")
        self.assertEqual(_value(metrics.S3_DEGRADED), 0)
        again = self._create(during, "after-outage.pdf")
        self.assertTrue(again.store_fname.startswith("s3://"))
        self.assertEqual(self.object_bytes(again.checksum), during)
