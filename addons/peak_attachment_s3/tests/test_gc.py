# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Rollback and garbage collection with real commits in other connections.

The test's own transaction stays empty; every scenario commits or rolls back
in cursors of its own, as concurrent requests do, and cleans up after itself.
"""

import hashlib
import os
import threading

import psycopg2

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import tagged

from odoo.addons.peak_base.models.peak_fulfillment_window import WEEKDAY_FIELDS

from .common import S3Case


@tagged("post_install", "-at_install")
class TestS3GarbageCollection(S3Case):
    s3_settings = {"gc_min_age_seconds": 0}

    def setUp(self):
        super().setUp()
        self.created_ids = []

    def tearDown(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM ir_attachment WHERE id = ANY(%s)", [self.created_ids]
            )
        self._gc()  # each test starts without orphans
        super().tearDown()

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def _create(self, cr, raw, name="label.pdf"):
        attachment = self._env(cr)["ir.attachment"].create(
            {"name": name, "raw": raw, "mimetype": "application/pdf"}
        )
        self.created_ids.append(attachment.id)
        return attachment

    def _gc(self):
        with self.registry.cursor() as cr:
            return self._env(cr)["ir.attachment"]._peak_s3_gc(min_age_seconds=0)

    def _exists(self, raw):
        sha = hashlib.sha1(raw).hexdigest()
        return f"{self.prefix}{sha[:2]}/{sha}" in self.keys()

    def test_rollback_leaves_an_orphan_that_gc_removes_and_committed_stay(self):
        kept, rolled_back = os.urandom(256), os.urandom(256)
        with self.registry.cursor() as cr:
            self._create(cr, kept)
        cr = self.registry.cursor()
        try:
            self._create(cr, rolled_back)
            cr.rollback()
        finally:
            cr.close()
        self.assertTrue(self._exists(kept))
        self.assertTrue(self._exists(rolled_back), "uploaded before the rollback")
        self.assertEqual(self._gc(), 1)
        self.assertTrue(self._exists(kept))
        self.assertFalse(self._exists(rolled_back))
        self.assertEqual(self._gc(), 0)

    def test_unlink_deletes_nothing_until_commit_then_gc(self):
        raw = os.urandom(256)
        with self.registry.cursor() as cr:
            attachment_id = self._create(cr, raw).id
        cr = self.registry.cursor()
        try:
            self._env(cr)["ir.attachment"].browse(attachment_id).unlink()
            self.assertTrue(self._exists(raw))
            cr.rollback()  # the unlink is undone: the object must still be there
        finally:
            cr.close()
        self.assertEqual(self._gc(), 0)
        with self.registry.cursor() as cr:
            self._env(cr)["ir.attachment"].browse(attachment_id).unlink()
        self.assertTrue(self._exists(raw))
        self.assertEqual(self._gc(), 1)
        self.assertFalse(self._exists(raw))

    def test_gc_keeps_the_object_of_a_writer_not_yet_committed(self):
        raw = os.urandom(256)
        writer = self.registry.cursor()
        try:
            self._create(writer, raw)  # uploaded, row not committed
            self.assertEqual(self._gc(), 0)
            self.assertTrue(self._exists(raw))
            writer.commit()
        finally:
            writer.close()
        self.assertEqual(self._gc(), 0)
        self.assertTrue(self._exists(raw))

    def test_writer_reusing_an_orphan_during_gc_keeps_its_object(self):
        """GC has decided to delete an orphan when a writer uploads the same
        content: the writer waits for the GC's lock and uploads again."""
        raw = os.urandom(256)
        cr = self.registry.cursor()
        try:
            fname = self._create(cr, raw).store_fname
            cr.rollback()
        finally:
            cr.close()
        done = threading.Event()
        errors = []

        def write():
            try:
                with self.registry.cursor() as wcr:
                    self._create(wcr, raw, name="reuse.pdf")
            except Exception as exc:  # reported by the main thread
                errors.append(exc)
            done.set()

        with self.registry.cursor() as gc_cr:
            attachments = self._env(gc_cr)["ir.attachment"]
            store = attachments._peak_s3_store()
            with attachments._peak_gc_locked([fname]) as free:
                self.assertEqual(free, [fname])
                writer = threading.Thread(target=write)
                writer.start()
                self.assertFalse(done.wait(1.0), "the writer must wait for the GC")
                store.delete_many([store.key(fname[len("s3://") :])])
            writer.join(30)
        self.assertTrue(done.is_set())
        self.assertEqual(errors, [])
        self.assertTrue(self._exists(raw))
        self.assertEqual(self._gc(), 0)
        self.assertTrue(self._exists(raw))

    def test_gc_takes_no_share_lock_on_ir_attachment(self):
        raw = os.urandom(256)
        cr = self.registry.cursor()
        try:
            fname = self._create(cr, raw).store_fname
            cr.rollback()
        finally:
            cr.close()
        with self.registry.cursor() as gc_cr:
            attachments = self._env(gc_cr)["ir.attachment"]
            with attachments._peak_gc_locked([fname]) as free:
                self.assertEqual(free, [fname])
                # Odoo's GC holds SHARE MODE here: this insert would time out.
                with self.registry.cursor() as other:
                    other.execute("SET LOCAL lock_timeout = '1s'")
                    try:
                        self._create(other, os.urandom(64), name="during-gc.pdf")
                    except psycopg2.errors.LockNotAvailable:
                        self.fail("an attachment write waited for the GC")

    def test_filestore_gc_without_share_lock(self):
        self.set_s3_env(enabled="0", gc_min_age_seconds=0)
        try:
            kept, orphan = os.urandom(128), os.urandom(128)
            with self.registry.cursor() as cr:
                kept_fname = self._create(cr, kept).store_fname
            cr = self.registry.cursor()
            try:
                orphan_fname = self._create(cr, orphan).store_fname
                cr.rollback()
            finally:
                cr.close()
            attachments = self.env["ir.attachment"]
            self.assertTrue(os.path.exists(attachments._full_path(orphan_fname)))
            with self.registry.cursor() as cr:
                self._env(cr)["ir.attachment"]._peak_gc_filestore()
            self.assertFalse(os.path.exists(attachments._full_path(orphan_fname)))
            self.assertTrue(os.path.exists(attachments._full_path(kept_fname)))
        finally:
            self.set_s3_env(**self.s3_settings)

    def test_gc_is_deferred_inside_a_fulfillment_window(self):
        raw = os.urandom(256)
        cr = self.registry.cursor()
        try:
            self._create(cr, raw)
            cr.rollback()
        finally:
            cr.close()
        env = self.env
        env["peak.fulfillment.window"].search([]).action_archive()
        env["peak.period"].search([]).action_archive()
        now = fields.Datetime.now()
        hours = now.hour + now.minute / 60
        env["peak.fulfillment.window"].create(
            {
                "name": "wave",
                **dict.fromkeys(WEEKDAY_FIELDS, True),
                "start_hour": (hours - 1) % 24,
                "end_hour": (hours + 1) % 24,
                "tz": "UTC",
            }
        )
        env["peak.mode"].set_peak_mode(True, "test")
        self.assertTrue(env["peak.mode"].get_status()["fulfillment_protected"])
        self.assertIsNone(env["ir.attachment"]._gc_file_store())
        self.assertTrue(self._exists(raw), "deferred: nothing collected")
        self.assertTrue(
            env["ir.config_parameter"].get_param("peak_queue.deferred.gc_file_store")
        )
        env["peak.mode"].set_peak_mode(False, "wave over")
        self.assertTrue(env["ir.attachment"]._gc_file_store())
        self.assertFalse(self._exists(raw), "collected once the window is over")
