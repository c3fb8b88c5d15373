# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The local read cache through the ORM, against a real SeaweedFS."""

import hashlib
import os
import shutil
import tempfile

from odoo.tests import tagged

from ..lib import metrics, runtime
from .common import S3Case


def _lookups(result):
    return metrics.S3_CACHE_LOOKUPS.labels(result)._value.get()


def _gets():
    for metric in metrics.S3_OPERATION_DURATION.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels["operation"] == "get":
                return sample.value
    return 0


@tagged("post_install", "-at_install")
class TestS3ReadCache(S3Case):
    @classmethod
    def setUpClass(cls):
        cls.cache_dir = tempfile.mkdtemp(prefix="peak-s3-cache-")
        cls.s3_settings = {"cache_dir": cls.cache_dir, "cache_max_bytes": 1 << 24}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.cache_dir, ignore_errors=True)

    def _create(self, raw):
        return self.Attachment.create(
            {"name": "delivery.pdf", "raw": raw, "mimetype": "application/pdf"}
        )

    def _drop_from_s3(self, raw):
        sha = hashlib.sha1(raw).hexdigest()
        key = f"{self.prefix}{sha[:2]}/{sha}"
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def test_a_read_fills_the_cache_and_later_reads_need_no_s3(self):
        raw = b"%PDF-1.7 delivery slip " + os.urandom(2048)
        attachment = self._create(raw)
        attachment.invalidate_recordset()
        misses, gets = _lookups("miss"), _gets()
        self.assertEqual(attachment.raw, raw)
        self.assertEqual((_lookups("miss"), _gets()), (misses + 1, gets + 1))
        self.Attachment._peak_s3_store().cache.flush()  # filled in the background
        # Gone from S3: only the cache can answer now.
        self._drop_from_s3(raw)
        hits = _lookups("hit")
        attachment.invalidate_recordset()
        self.assertEqual(attachment.raw, raw)
        self.assertEqual(attachment._to_http_stream().data, raw)  # downloads
        # A restarted worker: new runtime and cache objects, the same disk.
        runtime.reset()
        attachment.invalidate_recordset()
        self.assertEqual(attachment.raw, raw)
        self.assertEqual(_lookups("hit"), hits + 3)
        self.assertEqual(_gets(), gets + 1)

    def test_a_damaged_entry_is_read_again_from_s3(self):
        raw = b"%PDF-1.7 invoice " + os.urandom(2048)
        attachment = self._create(raw)
        attachment.invalidate_recordset()
        attachment.raw  # noqa: B018 - fills the cache
        self.Attachment._peak_s3_store().cache.flush()
        sha = hashlib.sha1(raw).hexdigest()
        [entry] = [
            os.path.join(root, name)
            for root, _dirs, names in os.walk(self.cache_dir)
            for name in names
            if name == sha
        ]
        with open(entry, "r+b") as handle:
            handle.write(b"X")
        os.utime(entry, (0, 0))  # checked when next marked used (once a minute)
        corrupt, gets = _lookups("corrupt"), _gets()
        attachment.invalidate_recordset()
        self.assertEqual(attachment.raw, raw)
        self.assertEqual((_lookups("corrupt"), _gets()), (corrupt + 1, gets + 1))
        self.Attachment._peak_s3_store().cache.flush()
        with open(entry, "rb") as handle:
            self.assertEqual(handle.read(), raw)  # filled again, whole

    def test_a_limit_of_zero_turns_it_off(self):
        raw = b"%PDF-1.7 manifest " + os.urandom(2048)
        attachment = self._create(raw)
        self.set_s3_env(cache_dir=self.cache_dir, cache_max_bytes=0)
        self.assertIsNone(self.Attachment._peak_s3_store().cache)
        attachment.invalidate_recordset()
        lookups = _lookups("miss") + _lookups("hit")
        self.assertEqual(attachment.raw, raw)
        self.assertEqual(_lookups("miss") + _lookups("hit"), lookups)
        self.set_s3_env(**self.s3_settings)
