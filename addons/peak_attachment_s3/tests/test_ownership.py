# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Only the owner of a prefix collects there, softly, and a copy reads its
files wherever they are (real SeaweedFS; the restores themselves are in
tests/test_attachment_restore.py)."""

import hashlib
import json
import os
import secrets
import time

from odoo.tests import tagged

from ..lib import metrics, ownership
from .common import S3Case


def _count(counter, **labels):
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels == labels:
                return sample.value
    return 0.0


@tagged("post_install", "-at_install")
class TestOwnership(S3Case):
    s3_settings = {"gc_min_age_seconds": 0}

    def setUp(self):
        super().setUp()
        # A prefix per test: the GC judges references in snapshots of its
        # own, where the rows of earlier tests (rolled back) are gone.
        type(self).prefix_root = f"test-{secrets.token_hex(4)}/"
        self.set_s3_env(**self.s3_settings)

    def _orphan(self, content=None):
        """An object under the prefix that no row references."""
        raw = content or b"orphan " + os.urandom(16)
        sha = hashlib.sha1(raw).hexdigest()
        key = f"{self.prefix}{sha[:2]}/{sha}"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=raw)
        return key, raw

    def _exists(self, key):
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key)
        return bool(listed.get("KeyCount"))

    def _marker(self, **owner):
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.prefix + ownership.MARKER,
            Body=json.dumps(owner).encode(),
        )

    def _read_marker(self):
        body = self.client.get_object(
            Bucket=self.bucket, Key=self.prefix + ownership.MARKER
        )["Body"].read()
        return ownership.Owner.from_json(body)

    def _me(self):
        return self.Attachment._peak_s3_me()

    def test_the_first_collection_claims_the_prefix_and_quarantines(self):
        key, raw = self._orphan()
        before = _count(metrics.S3_GC_OBJECTS, action="quarantined")
        self.assertEqual(self.Attachment._peak_s3_gc(), 1)
        self.assertFalse(self._exists(key))
        self.assertTrue(self._exists("quarantine/" + key), "kept in quarantine")
        quarantined = _count(metrics.S3_GC_OBJECTS, action="quarantined")
        self.assertEqual(quarantined, before + 1)
        marker = self._read_marker()
        self.assertEqual(marker, self._me())  # name, uuid and generation
        # Each run (and each heartbeat) raises the generation, here and there.
        self.Attachment._peak_s3_gc()
        self.assertEqual(self._read_marker().generation, marker.generation + 1)
        self.assertEqual(self._me().generation, marker.generation + 1)

    def test_another_databases_prefix_is_never_collected(self):
        key, _raw = self._orphan()
        self._marker(database="production", database_uuid="0000", generation=3)
        refused = _count(metrics.S3_GC_REFUSALS, reason=ownership.OTHER_DATABASE)
        with self.assertLogs("odoo.addons.peak_attachment_s3", "ERROR") as logs:
            self.assertEqual(self.Attachment._peak_s3_gc(), 0)
        self.assertIn("belongs to database 'production'", logs.output[0])
        self.assertTrue(self._exists(key))
        self.assertEqual(
            _count(metrics.S3_GC_REFUSALS, reason=ownership.OTHER_DATABASE), refused + 1
        )
        self.assertEqual(self._read_marker().database, "production")  # untouched
        settings = self.env["res.config.settings"].create({})
        self.assertIn("OFF, nothing is deleted", settings.peak_s3_owner)

    def test_a_stale_restore_collects_nothing_until_promoted(self):
        key, _raw = self._orphan()
        me = self._me()
        # The live database collected since this one's backup was taken.
        self._marker(
            database=me.database,
            database_uuid=me.database_uuid,
            generation=me.generation + 5,
        )
        with self.assertLogs("odoo.addons.peak_attachment_s3", "ERROR") as logs:
            self.assertEqual(self.Attachment._peak_s3_gc(), 0)
        self.assertIn("restored from a backup", logs.output[0])
        self.assertTrue(self._exists(key))
        # The operator says this copy is now production.
        result = self.Attachment._peak_s3_promote()
        self.assertEqual(result, {"prefix": self.prefix, "copied": 0})
        self.assertEqual(self._read_marker().generation, me.generation + 6)
        self.assertEqual(self.Attachment._peak_s3_gc(), 1)
        self.assertFalse(self._exists(key))

    def test_a_row_whose_object_was_collected_reads_it_back_from_quarantine(self):
        raw = b"%PDF-1.4 still needed " + os.urandom(16)
        attachment = self.Attachment.create(
            {"name": "needed.pdf", "raw": raw, "mimetype": "application/pdf"}
        )
        # As another database collecting this prefix would have left it.
        key = self.quarantine(attachment.checksum)
        attachment.invalidate_recordset()
        with self.assertLogs("odoo.addons.peak_attachment_s3", "WARNING"):
            self.assertEqual(attachment.raw, raw)
        self.assertTrue(self._exists(key), "put back where it belongs")

    def test_the_restore_command_brings_back_what_rows_reference(self):
        raw = b"%PDF-1.4 label " + os.urandom(16)
        attachment = self.Attachment.create(
            {"name": "label.pdf", "raw": raw, "mimetype": "application/pdf"}
        )
        key = f"{self.prefix}{attachment.checksum[:2]}/{attachment.checksum}"
        orphan, _raw = self._orphan()
        for moved in (key, orphan):
            self.client.copy_object(
                Bucket=self.bucket,
                Key="quarantine/" + moved,
                CopySource={"Bucket": self.bucket, "Key": moved},
            )
            self.client.delete_object(Bucket=self.bucket, Key=moved)
        result = self.Attachment._peak_s3_restore_quarantined()
        self.assertEqual(result, {"in_quarantine": 2, "restored": 1})
        self.assertTrue(self._exists(key))
        self.assertFalse(self._exists(orphan), "nobody needs it: it stays there")

    def test_quarantine_is_purged_after_its_retention(self):
        key, _raw = self._orphan()
        self.Attachment._peak_s3_gc()
        store = self.Attachment._peak_s3_store()
        self.assertEqual(self.Attachment._peak_s3_purge_quarantine(store), 0)
        later = time.time() + 31 * 86400
        self.assertEqual(self.Attachment._peak_s3_purge_quarantine(store, now=later), 1)
        self.assertFalse(self._exists("quarantine/" + key))

    def test_a_copy_under_another_name_reads_the_home_prefix_and_promotes(self):
        raw = b"%PDF-1.4 from production " + os.urandom(16)
        sha = hashlib.sha1(raw).hexdigest()
        home = self.prefix.replace(self.env.cr.dbname, "production")
        self.client.put_object(
            Bucket=self.bucket, Key=f"{home}{sha[:2]}/{sha}", Body=raw
        )
        self.env.cr.execute(
            "INSERT INTO ir_attachment (name, type, store_fname, checksum, "
            "file_size, mimetype) VALUES ('copied.pdf', 'binary', %s, %s, %s, "
            "'application/pdf') RETURNING id",
            [f"s3://{sha[:2]}/{sha}", sha, len(raw)],
        )
        copied = self.Attachment.browse(self.env.cr.fetchone()[0])
        self.env["ir.config_parameter"].set_param(ownership.HOME_PARAM, "production")
        self.assertEqual(copied.raw, raw)  # read where production keeps it
        result = self.Attachment._peak_s3_promote()
        self.assertEqual(result, {"prefix": self.prefix, "copied": 1})
        self.assertEqual(self.object_bytes(sha), raw)  # now under its own name
        copied.invalidate_recordset()
        self.assertEqual(copied.raw, raw)
        self.assertEqual(self._read_marker().database, self.env.cr.dbname)
