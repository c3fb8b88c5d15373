# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""``ir.attachment`` in S3: content-addressed, safe under rollback and outage.

Storage names: ``s3://ab/abcdef...`` (the sha1 checksum, Odoo's filestore
layout) is stored under ``<key prefix>ab/abcdef...`` in the bucket.  Rows whose
``store_fname`` has no ``s3://`` live in the filestore as usual, so both kinds
are read at any time (during a migration, or after turning S3 off).

Transaction safety rests on one rule: objects and files are removed only by
the garbage collector, never by the transaction that stops referencing them.
Writers take a shared transaction-level advisory lock on the checksum's bucket
(its first byte) before uploading; the GC takes the exclusive lock with
``pg_try_advisory_lock``, re-reads references in a *new* snapshot and
deletes only then.  A writer that has uploaded but not committed holds the
shared lock (the GC skips its key); a writer that comes later waits for the
short delete and uploads again.  No
``LOCK ir_attachment IN SHARE MODE``, neither for S3 nor for the filestore.
"""

import contextlib
import hashlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
from psycopg2.extras import execute_values

from odoo import _, api, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import config as odoo_config

from odoo.addons.peak_queue.models.peak_housekeeping import TASK_FILESTORE
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import identity_exact

from ..lib import config as s3config
from ..lib import runtime
from ..lib.store import S3Error

_logger = logging.getLogger(__name__)

#: web assets stay in the database whatever their size (as Odoo's own
#: ``ir_attachment.storage.force.database`` did for them)
DB_MIMETYPES = (
    "text/css",
    "text/scss",
    "application/javascript",
    "text/javascript",
)
FORCE_DB_KEY = "peak_s3_force_db"
MIGRATION_CHUNK_BYTES = 64 * 1024 * 1024
HEALTH_PROBE_INTERVAL_S = 5.0
GC_CHUNK = 1000


class S3StorageError(UserError):
    """The S3 store could not do what was asked; the transaction rolls back."""


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    # -- configuration and state -----------------------------------------

    @api.model
    def _peak_s3_runtime(self) -> runtime.Runtime:
        return runtime.get(
            self.env.cr.dbname,
            os.environ,
            odoo_config.misc.get(s3config.SECTION, {}),
        )

    @api.model
    def _peak_s3_location_param(self) -> str:
        return super()._storage()

    @api.model
    def _storage(self):
        if self.env.context.get(FORCE_DB_KEY):
            return "db"
        location = super()._storage()
        state = self._peak_s3_runtime()
        if state.wanted(location):
            state.start()
            # Bad configuration: logged once at start; keep serving.
            return "s3" if state.usable else "file"
        return "file" if location == "s3" else location

    @api.model
    def _peak_s3_store(self):
        """The store, for reading ``s3://`` names even when S3 is not the
        storage for new files; raises a clear error when unusable."""
        state = self._peak_s3_runtime()
        state.start()
        if not state.usable:
            raise S3StorageError(
                _(
                    "This document is kept in S3 object storage, which is not "
                    "configured correctly: %s",
                    state.error or _("no S3 configuration"),
                )
            )
        return state.store

    def _register_hook(self):
        super()._register_hook()
        # Validate and probe once per process at start, when S3 is on.
        self._storage()

    # -- write, read, delete ---------------------------------------------

    @api.model
    def _peak_s3_keep_in_db(self, data: bytes, mimetype) -> bool:
        mimetype = mimetype or ""
        if mimetype in DB_MIMETYPES:
            return True
        cfg = self._peak_s3_runtime().config
        limit = cfg.db_store_max_bytes if cfg else 0
        return mimetype.startswith("image/") and len(data) <= limit

    def _get_datas_related_values(self, data, mimetype):
        if (
            data
            and self._storage() == "s3"
            and self._peak_s3_keep_in_db(data, mimetype)
        ):
            return super(
                IrAttachment, self.with_context(**{FORCE_DB_KEY: True})
            )._get_datas_related_values(data, mimetype)
        return super()._get_datas_related_values(data, mimetype)

    @api.model
    def _peak_lock_shared(self, checksums) -> None:
        """Writers' side of the GC protocol: held until commit or rollback."""
        ids = sorted({s3config.lock_id(sha) for sha in checksums})
        if ids:
            self.env.cr.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, l) FROM unnest(%s::int[]) l",
                [s3config.LOCK_NAMESPACE, ids],
            )

    @api.model
    def _file_write(self, bin_value, checksum):
        self._peak_lock_shared([checksum])
        if self._storage() != "s3":
            return super()._file_write(bin_value, checksum)
        store = self._peak_s3_store()
        fname = s3config.fname_for(checksum)
        try:
            store.put(store.key(s3config.relative(fname)), bin_value)
        except S3Error as exc:
            _logger.error("upload of %s to S3 failed: %s", fname, exc)
            raise S3StorageError(
                _(
                    "The file could not be stored: the S3 attachment storage is "
                    "unavailable (%(reason)s). Nothing was saved; please try "
                    "again in a moment.",
                    reason=exc.reason,
                )
            ) from exc
        return fname

    @api.model
    def _peak_filestore_write(self, bin_value, checksum):
        """Odoo's filestore write, whatever the storage in use."""
        return super()._file_write(bin_value, checksum)

    @api.model
    def _file_read(self, fname):
        if not s3config.is_s3(fname):
            return super()._file_read(fname)
        store = self._peak_s3_store()
        try:
            return store.get(store.key(s3config.relative(fname)))
        except S3Error as exc:
            _logger.error("read of %s from S3 failed: %s", fname, exc)
            if exc.reason == "not_found":
                message = _(
                    "The file %(name)s is missing from the S3 attachment storage.",
                    name=fname,
                )
            else:
                message = _(
                    "The file could not be read: the S3 attachment storage is "
                    "unavailable (%(reason)s). Please try again in a moment.",
                    reason=exc.reason,
                )
            raise S3StorageError(message) from exc

    @api.model
    def _file_delete(self, fname):
        if s3config.is_s3(fname):
            # Never inside this transaction: a rollback would lose the file.
            # The GC removes objects that no committed row references.
            return
        return super()._file_delete(fname)

    def _to_http_stream(self):
        self.ensure_one()
        if not s3config.is_s3(self.store_fname):
            return super()._to_http_stream()
        from ..lib.stream import S3Stream

        store = self._peak_s3_store()
        cfg = store.cfg
        key = store.key(s3config.relative(self.store_fname))
        stream = S3Stream(
            type="data",
            mimetype=self.mimetype,
            download_name=self.name,
            etag=self.checksum,
            public=self.public,
            last_modified=self.write_date,
            size=self.file_size,
            store=store,
            key=key,
            chunked=(self.file_size or 0) >= cfg.stream_min_bytes,
        )
        # Images may be resized by ir.binary, which reads them: never redirect.
        large_document = not (self.mimetype or "").startswith("image/")
        size = self.file_size or 0
        if large_document and cfg.presign_min_bytes and size >= cfg.presign_min_bytes:
            try:
                stream.url = store.presign(key, self.name, self.mimetype)
            except S3Error as exc:
                raise S3StorageError(str(exc)) from exc
            stream.type = "url"
            stream.max_age = 0  # a 302, never a cacheable 301
        return stream

    # -- garbage collection ----------------------------------------------

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
        """Delete objects under this database's prefix that no row references
        and that are older than ``min_age_seconds`` (config default)."""
        store = self._peak_s3_store()
        cfg = store.cfg
        if not cfg.prefix_per_database:
            _logger.warning(
                "S3 GC skipped: key prefix %r has no {db}, so the bucket may hold "
                "other databases' objects",
                cfg.key_prefix,
            )
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
                    removed += store.delete_many([keys[f] for f in free])
        _logger.info("S3 gc: %d objects checked, %d removed", checked, removed)
        return removed

    # -- migration ---------------------------------------------------------

    @api.model
    def _peak_s3_ids_to_migrate(self, target: str) -> list[int]:
        if target == "s3":
            cfg = self._peak_s3_store().cfg
            self.env.cr.execute(
                """
                SELECT id FROM ir_attachment
                 WHERE type = 'binary'
                   AND coalesce(file_size, 1) > 0
                   AND (store_fname IS NULL OR store_fname NOT LIKE 's3://%%')
                   -- every filestore file goes (small images and assets into
                   -- the database); database rows only when not kept there
                   AND (store_fname IS NOT NULL
                        OR (db_datas IS NOT NULL
                            AND coalesce(mimetype, '') <> ALL(%s)
                            AND NOT (coalesce(mimetype, '') LIKE 'image/%%'
                                     AND coalesce(file_size, 0) <= %s)))
                 ORDER BY id
                """,
                [list(DB_MIMETYPES), cfg.db_store_max_bytes],
            )
        elif target == "file":
            self.env.cr.execute(
                "SELECT id FROM ir_attachment WHERE store_fname LIKE 's3://%%' "
                "ORDER BY id"
            )
        else:
            raise UserError(_("Unknown storage %s: use s3 or file.", target))
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _peak_s3_check_admin(self):
        if not self.env.is_admin():
            raise AccessError(_("Only administrators can move attachments."))

    @api.model
    def _peak_s3_enqueue_migration(self, target: str) -> int:
        """One queue_job job per batch in the bulk class (the governor can
        pause them); returns the number of attachments to move."""
        self._peak_s3_check_admin()
        ids = self._peak_s3_ids_to_migrate(target)
        size = self._peak_s3_store().cfg.migration_batch_size
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            self.with_delay(
                description=f"Move attachments {chunk[0]}..{chunk[-1]} to {target}",
                identity_key=identity_exact,
            )._peak_s3_migrate_batch(chunk, target)
        _logger.info(
            "queued the move of %d attachments to %s in %d jobs",
            len(ids),
            target,
            -(-len(ids) // size),
        )
        return len(ids)

    @api.model
    def _peak_s3_migrate_now(self, target: str) -> dict:
        """The whole migration inline (CLI, tests, bench); resumable: the rows
        already moved are not selected again."""
        self._peak_s3_check_admin()
        ids = self._peak_s3_ids_to_migrate(target)
        size = self._peak_s3_store().cfg.migration_batch_size
        total = {"moved": 0, "missing": 0, "mismatched": 0, "skipped": 0}
        for start in range(0, len(ids), size):
            result = self._peak_s3_migrate_batch(ids[start : start + size], target)
            for key, value in result.items():
                total[key] += value
        return total

    @api.model
    def _peak_s3_migrate_batch(self, ids, target: str) -> dict:
        store = self._peak_s3_store()
        if target == "s3":
            self.env.cr.execute(
                "SELECT id, store_fname, checksum, mimetype, file_size "
                "FROM ir_attachment WHERE id = ANY(%s) AND type = 'binary' "
                "AND (store_fname IS NULL OR store_fname NOT LIKE 's3://%%') "
                "ORDER BY id FOR UPDATE",
                [list(ids)],
            )
        else:
            self.env.cr.execute(
                "SELECT id, store_fname, checksum, mimetype, file_size "
                "FROM ir_attachment WHERE id = ANY(%s) AND store_fname LIKE 's3://%%' "
                "ORDER BY id FOR UPDATE",
                [list(ids)],
            )
        rows = self.env.cr.fetchall()
        result = {
            "moved": 0,
            "missing": 0,
            "mismatched": 0,
            "skipped": len(ids) - len(rows),
        }
        chunk, chunk_bytes = [], 0
        for row in rows:
            chunk.append(row)
            chunk_bytes += row[4] or 0
            if chunk_bytes >= MIGRATION_CHUNK_BYTES:
                self._peak_s3_migrate_chunk(store, chunk, target, result)
                chunk, chunk_bytes = [], 0
        if chunk:
            self._peak_s3_migrate_chunk(store, chunk, target, result)
        self.invalidate_model(["store_fname", "db_datas", "raw", "datas", "checksum"])
        _logger.info("moved attachments to %s: %s", target, result)
        return result

    @api.model
    def _peak_s3_read_source(self, store, row, target, db_data):
        """The content a migration moves (thread-safe: no query)."""
        rid, fname = row[0], row[1]
        if target == "file":
            return store.get(store.key(s3config.relative(fname)))
        if fname:
            try:
                with open(self._full_path(fname), "rb") as handle:
                    return handle.read()
            except OSError:
                return None
        return db_data.get(rid)

    @api.model
    def _peak_s3_transfer(self, store, rows, target) -> list:
        """``(state, sha1, data)`` for each of ``rows`` (id, store_fname,
        checksum, mimetype, file_size); state is ok, db (small image or web
        asset: into the database), missing or mismatched.

        Each worker thread reads one file (filestore, database or S3), checks
        its sha1 against the row's checksum and, towards S3, uploads it right
        away, so disk, network and hashing overlap.  The shared advisory locks
        of the checksums are taken first (the GC protocol); rows without a
        checksum are locked and uploaded once their sha1 is known.
        """
        db_rows = [row[0] for row in rows if not row[1]]
        db_data = {}
        if db_rows:
            self.env.cr.execute(
                "SELECT id, db_datas FROM ir_attachment WHERE id = ANY(%s)", [db_rows]
            )
            db_data = {rid: bytes(data or b"") for rid, data in self.env.cr.fetchall()}
        self._peak_lock_shared([row[2] for row in rows if row[2]])
        uploaded, uploaded_lock = set(), threading.Lock()

        def upload(sha, data):
            with uploaded_lock:
                if sha in uploaded:
                    return  # identical content earlier in this chunk
                uploaded.add(sha)
            store.put(store.key(s3config.relative(s3config.fname_for(sha))), data)

        def work(row):
            data = self._peak_s3_read_source(store, row, target, db_data)
            if not data:
                return "missing", None, None
            sha = hashlib.sha1(data).hexdigest()
            if row[2] and sha != row[2]:
                return "mismatched", sha, None
            if target == "s3" and self._peak_s3_keep_in_db(data, row[3]):
                return "db", sha, data  # small image or web asset
            if not row[2]:
                return "late", sha, data  # not locked yet
            if target == "s3":
                upload(sha, data)
                return "ok", sha, None
            return "ok", sha, data

        try:
            with ThreadPoolExecutor(store.cfg.migration_threads) as pool:
                outcomes = list(pool.map(work, rows))
            late = [
                (row, out)
                for row, out in zip(rows, outcomes, strict=True)
                if out[0] == "late"
            ]
            self._peak_lock_shared([out[1] for _row, out in late])
            if target == "s3":
                for _row, (_state, sha, data) in late:
                    upload(sha, data)
        except S3Error as exc:
            raise RetryableJobError(
                f"S3 unavailable while moving attachments: {exc}"
            ) from exc
        return [("ok", *out[1:]) if out[0] == "late" else out for out in outcomes]

    @api.model
    def _peak_s3_migrate_chunk(self, store, rows, target, result) -> None:
        """Move ``rows``: transfer, then switch the rows in one statement."""
        outcomes = self._peak_s3_transfer(store, rows, target)
        updates, to_db = [], []
        for row, (state, sha, data) in zip(rows, outcomes, strict=True):
            rid, fname = row[0], row[1]
            if state in ("missing", "mismatched"):
                result[state] += 1
                _logger.error(
                    "attachment %s: %s content at %s (sha1 %s, checksum %s), "
                    "not moved",
                    rid,
                    state,
                    fname,
                    sha,
                    row[2],
                )
                continue
            if state == "db":
                to_db.append((rid, psycopg2.Binary(data), sha))
                if fname:
                    self._mark_for_gc(fname)
            elif target == "s3":
                updates.append((rid, s3config.fname_for(sha), sha))
                if fname:
                    self._mark_for_gc(fname)  # the filestore GC removes it
            else:
                updates.append((rid, self._peak_filestore_write(data, sha), sha))
        if updates:
            execute_values(
                self.env.cr._obj,
                "UPDATE ir_attachment AS a SET store_fname = v.fname, "
                "db_datas = NULL, checksum = v.sha "
                "FROM (VALUES %s) AS v(id, fname, sha) WHERE a.id = v.id",
                updates,
                page_size=1000,
            )
        if to_db:
            execute_values(
                self.env.cr._obj,
                "UPDATE ir_attachment AS a SET store_fname = NULL, "
                "db_datas = v.data, checksum = v.sha "
                "FROM (VALUES %s) AS v(id, data, sha) WHERE a.id = v.id",
                to_db,
                page_size=200,
            )
        result["moved"] += len(updates) + len(to_db)

    @api.model
    def _get_storage_domain(self):
        if self._storage() == "s3":
            return [("store_fname", "not like", "s3://%")]
        return super()._get_storage_domain()

    @api.model
    def force_storage(self):
        """Odoo's "move to the configured storage": to S3 as queued jobs; to
        the filestore, Odoo's own move plus jobs bringing S3 objects back."""
        self._peak_s3_check_admin()
        storage = self._storage()
        if storage == "s3":
            return self._peak_s3_enqueue_migration("s3")
        result = super().force_storage()
        if storage == "file" and self._peak_s3_ids_to_migrate("file"):
            self._peak_s3_enqueue_migration("file")
        return result

    # -- health -------------------------------------------------------------

    @api.model
    def _peak_s3_health(self, probe=True) -> dict:
        location = self._peak_s3_location_param()
        state = self._peak_s3_runtime()
        wanted = state.wanted(location)
        storage = self._storage()
        info = {
            "storage": storage,
            "wanted": wanted,
            "status": "ok",
            "error": state.error or "",
            "bucket": state.config.bucket if state.config else "",
            "endpoint_url": state.config.masked()["endpoint_url"]
            if state.config
            else "",
            "prefix": state.store.prefix if state.store else "",
        }
        if wanted and not state.usable:
            info["status"] = "misconfigured"
            return info
        if not state.usable:
            info["status"] = "disabled"
            return info
        store = state.store
        if (
            probe
            and time.time() - store.health.last_probe_at >= HEALTH_PROBE_INTERVAL_S
        ):
            with contextlib.suppress(S3Error):
                store.probe()
        if store.health.degraded:
            info["status"] = "degraded"
            info["error"] = store.health.last_error
        return info
