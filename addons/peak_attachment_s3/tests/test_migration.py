# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Filestore -> S3 -> filestore with a few thousand attachments."""

import hashlib
import os

from odoo.tests import tagged

from odoo.addons.queue_job.job import Job

from .common import S3Case
from .test_storage import png

FILES = 2000


@tagged("post_install", "-at_install")
class TestMigration(S3Case):
    s3_settings = {"migration_batch_size": 700}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_s3_env(enabled="0", **cls.s3_settings)
        assert cls.env["ir.attachment"]._storage() == "file"
        cls.contents = [os.urandom(900) + b"%d" % i for i in range(FILES)]
        cls.attachments = cls.env["ir.attachment"].create(
            [
                {"name": f"doc{i}.pdf", "raw": raw, "mimetype": "application/pdf"}
                for i, raw in enumerate(cls.contents)
            ]
        )
        # One more kept in the database by Odoo's own 'db' storage.
        cls.db_raw = os.urandom(700)
        cls.db_stored = (
            cls.env["ir.attachment"]
            .with_context(peak_s3_force_db=True)
            .create(
                {"name": "db.pdf", "raw": cls.db_raw, "mimetype": "application/pdf"}
            )
        )
        # A thumbnail in the filestore: S3 mode keeps such images in the DB.
        cls.thumbnail_raw = png(8)
        cls.thumbnail = cls.env["ir.attachment"].create(
            {"name": "thumb.png", "raw": cls.thumbnail_raw, "mimetype": "image/png"}
        )
        cls.set_s3_env(**cls.s3_settings)

    def _mine(self, target):
        ids = set(self.Attachment._peak_s3_ids_to_migrate(target))
        return ids & set(self.attachments.ids + self.db_stored.ids)

    def test_to_s3_and_back(self):
        filestore_names = self.attachments.mapped("store_fname")
        self.assertTrue(all(n and not n.startswith("s3://") for n in filestore_names))
        self.assertFalse(self.db_stored.store_fname)
        self.assertTrue(self.thumbnail.store_fname)
        self.assertEqual(len(self._mine("s3")), FILES + 1)

        result = self.Attachment._peak_s3_migrate_now("s3")
        self.assertGreaterEqual(result["moved"], FILES + 1)
        self.assertEqual(result["mismatched"], 0)
        self.assertEqual(self._mine("s3"), set())
        everything = self.attachments | self.db_stored
        everything.invalidate_recordset()
        for attachment in everything:
            self.assertEqual(
                attachment.store_fname,
                f"s3://{attachment.checksum[:2]}/{attachment.checksum}",
            )
            self.assertFalse(attachment.db_datas)
        # Checksums verified on the objects themselves, every one of them.
        keys = set(self.keys())
        for raw in [*self.contents, self.db_raw]:
            sha = hashlib.sha1(raw).hexdigest()
            self.assertIn(f"{self.prefix}{sha[:2]}/{sha}", keys)
        for raw in self.contents[:: FILES // 50]:
            sha = hashlib.sha1(raw).hexdigest()
            self.assertEqual(hashlib.sha1(self.object_bytes(sha)).hexdigest(), sha)
        self.assertEqual(self.db_stored.raw, self.db_raw)
        self.thumbnail.invalidate_recordset()
        self.assertFalse(self.thumbnail.store_fname, "no filestore left behind")
        self.assertEqual(self.thumbnail.db_datas, self.thumbnail_raw)

        # Rerun: nothing left to move.
        again = self.Attachment._peak_s3_migrate_now("s3")
        self.assertEqual(self._mine("s3"), set())
        self.assertEqual(again["moved"], 0)

        # The way back restores the filestore.
        back = self.Attachment._peak_s3_migrate_now("file")
        self.assertGreaterEqual(back["moved"], FILES + 1)
        everything.invalidate_recordset()
        for attachment, raw in zip(self.attachments, self.contents, strict=True):
            self.assertFalse(attachment.store_fname.startswith("s3://"))
            with open(self.Attachment._full_path(attachment.store_fname), "rb") as f:
                self.assertEqual(f.read(), raw)
        self.assertEqual(self.db_stored.raw, self.db_raw)
        self.assertEqual(self._mine("file"), set())

    def test_corrupted_file_is_not_moved(self):
        victim = self.attachments[7]
        path = self.Attachment._full_path(victim.store_fname)
        with open(path, "rb") as f:
            original = f.read()
        try:
            with open(path, "wb") as f:
                f.write(b"bit rot")
            result = self.Attachment._peak_s3_migrate_batch(victim.ids, "s3")
            self.assertEqual(result["mismatched"], 1)
            self.assertEqual(result["moved"], 0)
            victim.invalidate_recordset()
            self.assertFalse(victim.store_fname.startswith("s3://"))
        finally:
            with open(path, "wb") as f:
                f.write(original)

    def test_force_storage_queues_bulk_jobs_that_move_files(self):
        self.Attachment.force_storage()
        jobs = self.env["queue.job"].search(
            [("method_name", "=", "_peak_s3_migrate_batch")]
        )
        self.assertGreaterEqual(len(jobs), 3)  # 2 001 rows, batches of 700
        self.assertEqual(set(jobs.mapped("channel")), {"root.bulk"})
        self.Attachment.force_storage()  # a second click queues nothing new
        self.assertEqual(
            self.env["queue.job"].search_count(
                [("method_name", "=", "_peak_s3_migrate_batch")]
            ),
            len(jobs),
        )
        mine = [job for job in jobs if set(job.args[0]) & set(self.attachments.ids)]
        Job.load(self.env, mine[0].uuid).perform()
        moved = self.attachments.filtered(lambda a: a.id in mine[0].args[0])
        moved.invalidate_recordset()
        self.assertTrue(moved)
        self.assertTrue(all(a.store_fname.startswith("s3://") for a in moved))
