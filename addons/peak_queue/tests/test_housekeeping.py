# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import contextlib
import inspect
import logging
import os
import time
import uuid
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields, http
from odoo.tests import TransactionCase, tagged

from odoo.addons.base.models.ir_autovacuum import is_autovacuum
from odoo.addons.peak_base.models.peak_fulfillment_window import WEEKDAY_FIELDS

MARK_QUEUE = "peak_queue.deferred.queue_job_autovacuum"
MARK_SESSIONS = "peak_queue.deferred.gc_sessions"
MARK_FILESTORE = "peak_queue.deferred.gc_file_store"
LOGGER = "odoo.addons.peak_queue.models.peak_housekeeping"


@tagged("post_install", "-at_install")
class TestHousekeeping(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.params = cls.env["ir.config_parameter"].sudo()
        cls.housekeeping = cls.env["peak.queue.housekeeping"]
        cls.env["peak.period"].search([]).action_archive()
        cls.env["peak.fulfillment.window"].search([]).action_archive()
        cls.params.set_param("peak_base.mode", "auto")
        cls.params.set_param("peak_base.forced_off_until", False)
        for key in (MARK_QUEUE, MARK_SESSIONS, MARK_FILESTORE):
            cls.params.set_param(key, False)
        cls.now = fields.Datetime.now()

    # helpers

    def _window(self, start_offset, end_offset):
        """A daily UTC window from now + start_offset to now + end_offset hours."""
        hours = self.now.hour + self.now.minute / 60
        return self.env["peak.fulfillment.window"].create(
            {
                "name": "Test wave",
                **dict.fromkeys(WEEKDAY_FIELDS, True),
                "start_hour": (hours + start_offset) % 24,
                "end_hour": (hours + end_offset) % 24,
                "tz": "UTC",
            }
        )

    def _protect(self):
        """Peak mode on, inside a window open from an hour ago to in an hour."""
        self._window(-1, 1)
        self.env["peak.mode"].set_peak_mode(True, "test")
        self.assertTrue(self.env["peak.mode"].get_status()["fulfillment_protected"])

    def _after_window(self):
        """Two hours from now: the window opened by _protect() is over."""
        return freeze_time(self.now + timedelta(hours=2))

    def _done_job(self, days_ago):
        job = self.env["res.partner"].with_delay().create({"name": "housekeeping"})
        record = job.db_record()
        record.write(
            {"state": "done", "date_done": self.now - timedelta(days=days_ago)}
        )
        return record

    def _old_session_file(self):
        store = http.root.session_store
        session = store.new()
        store.save(session)
        path = store.get_session_filename(session.sid)
        self.addCleanup(self._remove, path)
        age = http.get_session_max_inactivity(self.env) + 86400
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    @staticmethod
    def _remove(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def _mark(self, key):
        return self.params.get_param(key)

    # tests

    def test_overrides_stay_autovacuum_methods(self):
        """ir.autovacuum only calls methods that still carry the marker."""
        for model, method in (
            ("ir.attachment", "_gc_file_store"),
            ("ir.http", "_gc_sessions"),
        ):
            cls = self.registry[model]
            self.assertIn(method, dict(inspect.getmembers(cls, is_autovacuum)))
            ours = [
                vars(klass)[method]
                for klass in cls.__mro__
                if klass.__module__ == LOGGER and method in vars(klass)
            ]
            self.assertEqual(len(ours), 1, f"{model}.{method} not overridden")
            self.assertTrue(is_autovacuum(ours[0]))

    def test_cron_runs_every_five_minutes(self):
        cron = self.env.ref("peak_queue.ir_cron_run_deferred_housekeeping")
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (5, "minutes"))
        self.assertEqual(cron.model_id.model, "peak.queue.housekeeping")

    def test_queue_job_purge_deferred_inside_window(self):
        self._protect()
        old_job = self._done_job(days_ago=60)
        # Odoo names its level 25 "INFO" too: pass the number, not the name.
        with self.assertLogs(LOGGER, logging.INFO) as logs:
            self.env["queue.job"].autovacuum()
        self.assertEqual(len(logs.records), 1)
        self.assertIn("queue_job_autovacuum", logs.output[0])
        self.assertTrue(old_job.exists(), "purged inside a fulfillment window")
        first = self._mark(MARK_QUEUE)
        self.assertTrue(first)
        self.assertLessEqual(
            abs(fields.Datetime.to_datetime(first) - fields.Datetime.now()),
            timedelta(minutes=1),
        )
        # Deferred again later in the window: the first deferral time is kept.
        with freeze_time(self.now + timedelta(minutes=30)):
            self.env["queue.job"].autovacuum()
        self.assertEqual(self._mark(MARK_QUEUE), first)
        self.assertTrue(old_job.exists())

    def test_deferred_purge_runs_when_window_ends(self):
        self._protect()
        old_job, recent_job = self._done_job(days_ago=60), self._done_job(days_ago=1)
        self.env["queue.job"].autovacuum()
        # Still inside the window: the cron leaves it alone, without logging a
        # new deferral every five minutes.
        with self.assertNoLogs(LOGGER, logging.INFO):
            self.housekeeping._cron_run_deferred()
        self.assertTrue(old_job.exists())
        self.assertTrue(self._mark(MARK_QUEUE))
        with self._after_window():
            self.assertFalse(
                self.env["peak.mode"].get_status()["fulfillment_protected"]
            )
            self.housekeeping._cron_run_deferred()
        self.assertFalse(old_job.exists(), "deferred purge did not run")
        self.assertTrue(recent_job.exists(), "queue_job's removal interval ignored")
        self.assertFalse(self._mark(MARK_QUEUE))

    def test_direct_call_after_window_runs_and_clears_mark(self):
        self._protect()
        old_job = self._done_job(days_ago=60)
        self.env["queue.job"].autovacuum()
        self.assertTrue(self._mark(MARK_QUEUE))
        # Peak mode still on, but no window open any more.
        with self._after_window():
            self.assertTrue(self.env["peak.mode"].get_status()["peak_mode"])
            self.env["queue.job"].autovacuum()
        self.assertFalse(old_job.exists())
        self.assertFalse(self._mark(MARK_QUEUE))

    def test_peak_mode_outside_any_window_runs_normally(self):
        self._window(3, 4)
        self.env["peak.mode"].set_peak_mode(True, "test")
        status = self.env["peak.mode"].get_status()
        self.assertTrue(status["peak_mode"])
        self.assertFalse(status["in_window"])
        old_job = self._done_job(days_ago=60)
        path = self._old_session_file()
        with patch.dict(os.environ, {"ODOO_SKIP_GC_SESSIONS": ""}):
            self.env["ir.http"]._gc_sessions()
        self.env["queue.job"].autovacuum()
        self.assertFalse(os.path.exists(path), "session GC did not run")
        self.assertFalse(old_job.exists(), "queue_job purge did not run")
        self.assertFalse(self._mark(MARK_QUEUE) or self._mark(MARK_SESSIONS))

    def test_session_gc_deferred_then_run_when_peak_mode_off(self):
        self._protect()
        path = self._old_session_file()
        with patch.dict(os.environ, {"ODOO_SKIP_GC_SESSIONS": ""}):
            self.env["ir.http"]._gc_sessions()
            self.assertTrue(os.path.exists(path), "sessions collected in a window")
            self.assertTrue(self._mark(MARK_SESSIONS))
            self.env["peak.mode"].set_peak_mode(False, "test")
            self.housekeeping._cron_run_deferred()
        self.assertFalse(os.path.exists(path), "deferred session GC did not run")
        self.assertFalse(self._mark(MARK_SESSIONS))

    def test_filestore_gc_deferred_inside_window(self):
        self.params.set_param("ir_attachment.location", "file")
        attachment = self.env["ir.attachment"].create(
            {"name": "label.txt", "raw": uuid.uuid4().hex.encode()}
        )
        self.assertTrue(attachment.store_fname)
        path = attachment._full_path(attachment.store_fname)
        attachment.unlink()  # only marks the file for the next filestore GC
        self._protect()
        # Were it not deferred, Odoo's GC would commit: a TransactionCase forbids it.
        self.env["ir.attachment"]._gc_file_store()
        self.assertTrue(os.path.exists(path), "filestore collected in a window")
        self.assertTrue(self._mark(MARK_FILESTORE))

    def test_cron_runs_every_deferred_task_and_clears_marks(self):
        self._protect()
        old_job = self._done_job(days_ago=60)
        self.env["queue.job"].autovacuum()
        with patch.dict(os.environ, {"ODOO_SKIP_GC_SESSIONS": ""}):
            self.env["ir.http"]._gc_sessions()
        self.env["ir.attachment"]._gc_file_store()
        marks = (MARK_QUEUE, MARK_SESSIONS, MARK_FILESTORE)
        self.assertTrue(all(self._mark(key) for key in marks))
        # With database storage Odoo's filestore GC has nothing to collect and
        # returns before its commit, so it can run inside this test.
        self.params.set_param("ir_attachment.location", "db")
        with (
            self._after_window(),
            patch.dict(os.environ, {"ODOO_SKIP_GC_SESSIONS": ""}),
        ):
            self.housekeeping._cron_run_deferred()
        self.assertFalse(old_job.exists())
        self.assertEqual([self._mark(key) for key in marks], [False] * 3)

    def test_force_context_runs_inside_window(self):
        self._protect()
        old_job = self._done_job(days_ago=60)
        self.env["queue.job"].autovacuum()
        self.assertTrue(old_job.exists())
        self.housekeeping.with_context(
            peak_force_housekeeping=True
        )._cron_run_deferred()
        self.assertFalse(old_job.exists(), "forced run did not purge")
        self.assertFalse(self._mark(MARK_QUEUE))
