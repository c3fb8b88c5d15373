# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Garbage collection of the filestore and of S3, without a table lock.

Transaction safety rests on one rule: objects and files are removed only by
the garbage collector, never by the transaction that stops referencing them.
Writers take a shared transaction-level advisory lock on the checksum's bucket
(its first byte) before uploading; the GC takes the exclusive lock with
``pg_try_advisory_lock``, re-reads references in a *new* snapshot and
deletes only then.  A writer that has uploaded but not committed holds the
shared lock (the GC skips its key); a writer that comes later waits for the
short delete and uploads again.  No
``LOCK ir_attachment IN SHARE MODE``, neither for S3 nor for the filestore.

In S3 deletion is soft and owned: objects go to a quarantine prefix for
``PEAK_S3_QUARANTINE_DAYS`` (30) first, and only the database that owns the
prefix collects there (``ir_attachment_ownership.py``).
"""

import contextlib
import logging
import os
import time

from odoo import api, models

from odoo.addons.peak_queue.models.peak_housekeeping import TASK_FILESTORE

from ..lib import config as s3config
from ..lib import metrics
from ..lib.store import S3Error

_logger = logging.getLogger(__name__)

GC_CHUNK = 1000


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    @contextlib.contextmanager
    def _peak_gc_locked(self, fnames):
        """Yield those of ``fnames`` that no row references, exclusively
        locked against writers, checked in a snapshot taken after locking."""
        if not fnames:
            yield []
            return
        with self.env.registry.cursor() as lock_cr:
            try:
                lock_cr.execute(
                    "SELECT f, pg_try_advisory_lock(%s, l) "
                    "FROM unnest(%s::text[], %s::int[]) AS t(f, l)",
                    [
                        s3config.LOCK_NAMESPACE,
                        list(fnames),
                        [s3config.lock_id(f) for f in fnames],
                    ],
                )
                locked = [f for f, ok in lock_cr.fetchall() if ok]
                lock_cr.commit()  # the next statement gets a fresh snapshot
                lock_cr.execute(
                    "SELECT store_fname FROM ir_attachment WHERE store_fname = ANY(%s)",
                    [locked],
                )
                referenced = {row[0] for row in lock_cr.fetchall()}
                lock_cr.commit()
                yield [f for f in locked if f not in referenced]
            finally:
                lock_cr.rollback()
                lock_cr.execute("SELECT pg_advisory_unlock_all()")
                lock_cr.commit()

    @api.model
    def _peak_referenced(self, fnames) -> set:
        self.env.cr.execute(
            "SELECT store_fname FROM ir_attachment WHERE store_fname = ANY(%s)",
            [list(fnames)],
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.autovacuum
    def _gc_file_store(self):
        """Filestore and S3 GC without ``LOCK ir_attachment IN SHARE MODE``;
        deferred during fulfillment windows in Peak mode (peak_queue)."""
        housekeeping = self.env["peak.queue.housekeeping"]
        if housekeeping._defer(TASK_FILESTORE):
            return None
        self._peak_gc_filestore()
        state = self._peak_s3_runtime()
        if state.config is not None and state.config.bucket:
            state.start()
            if state.usable:
                try:
                    self._peak_s3_gc()
                except S3Error as exc:
                    _logger.warning("S3 GC stopped, retried next run: %s", exc)
        housekeeping._done(TASK_FILESTORE)
        return True

    @api.model
    def _peak_gc_filestore(self) -> int:
        checklist = {}
        for dirpath, _dirs, filenames in os.walk(self._full_path("checklist")):
            dirname = os.path.basename(dirpath)
            for filename in filenames:
                checklist[f"{dirname}/{filename}"] = os.path.join(dirpath, filename)
        removed = 0
        names = sorted(checklist)
        for start in range(0, len(names), GC_CHUNK):
            chunk = names[start : start + GC_CHUNK]
            referenced = self._peak_referenced(chunk)
            done = [f for f in chunk if f in referenced]
            with self._peak_gc_locked(
                [f for f in chunk if f not in referenced]
            ) as free:
                for fname in free:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self._full_path(fname))
                        removed += 1
                done += free
            for fname in done:
                with contextlib.suppress(OSError):
                    os.unlink(checklist[fname])
        _logger.info("filestore gc: %d checked, %d removed", len(checklist), removed)
        return removed

    @api.model
    def _peak_s3_gc(self, min_age_seconds=None) -> int:
        """Move to the quarantine the objects under this database's prefix
        that no row references and that are older than ``min_age_seconds``
        (config default), if this database owns the prefix; then purge the
        quarantine of what is past its retention."""
        store = self._peak_s3_store()
        cfg = store.cfg
        if not cfg.prefix_per_database:
            _logger.warning(
                "S3 GC skipped: key prefix %r has no {db}, so the bucket may hold "
                "other databases' objects",
                cfg.key_prefix,
            )
            return 0
        if not self._peak_s3_owns(store):
            return 0
        if min_age_seconds is None:
            min_age_seconds = cfg.gc_min_age_seconds
        cutoff = time.time() - min_age_seconds
        checked = removed = 0
        for page in store.list_pages():
            keys = {}
            for key, modified in page:
                fname = s3config.fname_from_key(store.prefix, key)
                # 0: no age filter (S3 rounds LastModified to the second)
                if fname and (min_age_seconds <= 0 or modified <= cutoff):
                    keys[fname] = key
            checked += len(keys)
            if not keys:
                continue
            candidates = sorted(set(keys) - self._peak_referenced(keys))
            with self._peak_gc_locked(candidates) as free:
                if free:
                    removed += self._peak_s3_quarantine(store, [keys[f] for f in free])
        purged = self._peak_s3_purge_quarantine(store)
        _logger.info(
            "S3 gc: %d objects checked, %d moved to quarantine, %d purged from it",
            checked,
            removed,
            purged,
        )
        return removed

    @api.model
    def _peak_s3_purge_quarantine(self, store, now=None) -> int:
        """Delete what has been in this prefix's quarantine for longer than
        ``quarantine_days`` (a bucket lifecycle rule may do it first)."""
        cutoff = (now or time.time()) - store.cfg.quarantine_days * 86400
        root = self._peak_s3_quarantine_key(store, store.prefix)
        purged = 0
        for page in store.list_pages(prefix=root):
            old = [key for key, modified in page if modified <= cutoff]
            if old:
                purged += store.delete_many(old)
        metrics.S3_GC_OBJECTS.labels("purged").inc(purged)
        return purged
