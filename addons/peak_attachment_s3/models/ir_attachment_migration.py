# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Moving attachments between the filestore (or the database) and S3.

Queued as bulk-class jobs (the governor can pause them) or run inline;
resumable, every content checked against its row's checksum on the way.
"""

import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg2
from psycopg2.extras import execute_values

from odoo import _, api, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import identity_exact

from ..lib import config as s3config
from ..lib.store import ContentCollision, S3Error
from .ir_attachment import DB_MIMETYPES

_logger = logging.getLogger(__name__)

MIGRATION_CHUNK_BYTES = 64 * 1024 * 1024


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

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
        total = {
            "moved": 0,
            "missing": 0,
            "mismatched": 0,
            "collided": 0,
            "skipped": 0,
        }
        for start in range(0, len(ids), size):
            result = self._peak_s3_migrate_batch(ids[start : start + size], target)
            for key, value in result.items():
                total[key] += value
        return total

    @api.model
    def _peak_s3_migrate_batch(self, ids, target: str) -> dict:
        store = self._peak_s3_store()
        if target == "s3":
            self._peak_s3_pin_home()
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
            "collided": 0,
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
        uploaded: dict[str, str] = {}  # sha1 -> ok or collided
        sha_locks: dict[str, threading.Lock] = {}
        locks_lock = threading.Lock()

        def upload(sha, data) -> str:
            with locks_lock:
                sha_lock = sha_locks.setdefault(sha, threading.Lock())
            with sha_lock:  # identical content earlier in this chunk: once
                if sha not in uploaded:
                    key = store.key(s3config.relative(s3config.fname_for(sha)))
                    try:
                        store.put_content(key, data)
                        uploaded[sha] = "ok"
                    except ContentCollision:
                        uploaded[sha] = "collided"  # another file, same SHA-1
                return uploaded[sha]

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
                return upload(sha, data), sha, None
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
            done = {}
            for _row, (_state, sha, data) in late:
                done[sha] = upload(sha, data) if target == "s3" else "ok"
        except S3Error as exc:
            raise RetryableJobError(
                f"S3 unavailable while moving attachments: {exc}"
            ) from exc
        return [
            (done[out[1]], out[1], out[2] if target == "file" else None)
            if out[0] == "late"
            else out
            for out in outcomes
        ]

    @api.model
    def _peak_s3_migrate_chunk(self, store, rows, target, result) -> None:
        """Move ``rows``: transfer, then switch the rows in one statement."""
        outcomes = self._peak_s3_transfer(store, rows, target)
        updates, to_db = [], []
        for row, (state, sha, data) in zip(rows, outcomes, strict=True):
            rid, fname = row[0], row[1]
            if state in ("missing", "mismatched", "collided"):
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
