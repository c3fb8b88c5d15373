# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Create, read, update, delete through the ORM against a real SeaweedFS."""

import hashlib
import io
import os

from PIL import Image

from odoo.tests import TransactionCase, tagged

from ..lib import metrics
from .common import S3Case


def png(side):
    """A real PNG of random pixels (Odoo opens images to post-process them)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        buffer, "PNG"
    )
    return buffer.getvalue()


@tagged("post_install", "-at_install")
class TestS3Storage(S3Case):
    @staticmethod
    def _observations(operation):
        """Samples in peak_s3_operation_duration_seconds{operation}."""
        for metric in metrics.S3_OPERATION_DURATION.collect():
            for sample in metric.samples:
                if (
                    sample.name.endswith("_count")
                    and sample.labels.get("operation") == operation
                ):
                    return sample.value
        return 0

    def _create(self, raw, mimetype="application/pdf", name="label.pdf"):
        return self.Attachment.create({"name": name, "raw": raw, "mimetype": mimetype})

    def test_storage_is_s3_when_enabled(self):
        self.assertEqual(self.Attachment._storage(), "s3")

    def test_create_stores_object_under_checksum_key_and_reads_back(self):
        raw = b"%PDF-1.4 label " + os.urandom(64)
        sha = hashlib.sha1(raw).hexdigest()
        puts = self._observations("put")
        attachment = self._create(raw)
        self.assertEqual(self._observations("put"), puts + 1)
        self.assertEqual(attachment.store_fname, f"s3://{sha[:2]}/{sha}")
        self.assertFalse(attachment.db_datas)
        self.assertEqual(self.object_bytes(sha), raw)
        self.assertFalse(
            os.path.exists(self.Attachment._full_path(f"{sha[:2]}/{sha}")),
            "nothing may land in the filestore",
        )
        attachment.invalidate_recordset()
        self.assertEqual(attachment.raw, raw)

    def test_identical_content_shares_one_object(self):
        raw = b"same label " + os.urandom(32)
        first, second = self._create(raw), self._create(raw, name="copy.pdf")
        self.assertEqual(first.store_fname, second.store_fname)
        sha = hashlib.sha1(raw).hexdigest()
        self.assertEqual(
            [k for k in self.keys() if k.endswith(sha)],
            [f"{self.prefix}{sha[:2]}/{sha}"],
        )

    def test_update_and_unlink_never_delete_inside_the_transaction(self):
        old, new = b"v1 " + os.urandom(32), b"v2 " + os.urandom(32)
        attachment = self._create(old)
        attachment.raw = new
        new_sha = hashlib.sha1(new).hexdigest()
        self.assertEqual(attachment.store_fname, f"s3://{new_sha[:2]}/{new_sha}")
        self.assertEqual(self.object_bytes(new_sha), new)
        attachment.unlink()
        # A rollback of this transaction must find both objects again.
        self.assertEqual(self.object_bytes(hashlib.sha1(old).hexdigest()), old)
        self.assertEqual(self.object_bytes(new_sha), new)

    def test_small_images_and_web_assets_stay_in_the_database(self):
        small_png = png(8)
        image = self._create(small_png, "image/png", "thumb.png")
        css = self._create(b"body { color: red }" * 20000, "text/css", "web.css")
        big_png = png(120)
        big_image = self._create(big_png, "image/png", "photo.png")
        self.assertFalse(image.store_fname)
        self.assertEqual(image.db_datas, small_png)
        self.assertFalse(css.store_fname)
        self.assertTrue(big_image.store_fname.startswith("s3://"))

    def test_copy_keeps_content(self):
        raw = b"copy me " + os.urandom(16)
        copy = self._create(raw).copy()
        copy.invalidate_recordset()
        self.assertEqual(copy.raw, raw)
        self.assertTrue(copy.store_fname.startswith("s3://"))

    def test_settings_show_storage_health_and_counts(self):
        settings = self.env["res.config.settings"].create({})
        self.assertIn(self.bucket, settings.peak_s3_storage)
        self.assertIn(self.prefix, settings.peak_s3_storage)
        self.assertEqual(settings.peak_s3_health, "healthy")
        before = settings.peak_s3_counts
        self.assertRegex(before, r"^\d+ in S3, \d+ in the filestore")

        def counts():
            return self.env["res.config.settings"].create({}).peak_s3_counts

        self._create(b"counted " + os.urandom(16))
        # Counted once per few minutes: the count reads the whole table.
        self.assertEqual(counts().split(" (")[0], before.split(" (")[0])
        action = settings.action_peak_s3_migrate()
        self.assertEqual(action["tag"], "display_notification")
        self.assertNotEqual(counts().split(" (")[0], before.split(" (")[0])

    def test_client_uses_adaptive_retries_and_bounded_timeouts(self):
        store = self.Attachment._peak_s3_store()
        config = store.client.meta.config
        self.assertEqual(config.retries["mode"], "adaptive")
        self.assertEqual(config.retries["total_max_attempts"], 2)  # s3_environ
        self.assertEqual(config.connect_timeout, 1.0)
        self.assertEqual(config.read_timeout, 5.0)
        probe = store._probe_client.meta.config
        self.assertEqual(probe.retries["total_max_attempts"], 1)
        self.assertLessEqual(probe.read_timeout, 3.0)


@tagged("post_install", "-at_install")
class TestSettingsCount(TransactionCase):
    """Alone in its class: its transaction must hold no lock on
    ir_attachment, so that another one can lock the table."""

    def test_a_count_that_would_take_long_is_given_up(self):
        settings = self.env["res.config.settings"]
        self.env.cr.execute("SHOW statement_timeout")
        timeout = self.env.cr.fetchone()[0]
        with self.env.registry.cursor() as other:
            other.execute("SET lock_timeout = '10s'")  # never hang the suite
            # Another transaction holds the table: the count has to wait.
            other.execute("LOCK TABLE ir_attachment IN ACCESS EXCLUSIVE MODE")
            try:
                counts = settings._peak_s3_count_now()
            finally:
                other.rollback()  # before anything else reads the table
        self.assertIsNone(counts)  # Settings then says "not counted"
        self.env.cr.execute("SHOW statement_timeout")  # the cursor goes on
        self.assertEqual(self.env.cr.fetchone()[0], timeout)  # as it was
        self.assertEqual(len(settings._peak_s3_count_now()), 3)
