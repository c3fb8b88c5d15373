# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""``ir.attachment`` in S3: content-addressed, safe under rollback and outage.

Storage names: ``s3://ab/abcdef...`` (the sha1 checksum, Odoo's filestore
layout) is stored under ``<key prefix>ab/abcdef...`` in the bucket.  Rows whose
``store_fname`` has no ``s3://`` live in the filestore as usual, so both kinds
are read at any time (during a migration, or after turning S3 off).

Objects are removed only by the garbage collector (``ir_attachment_gc.py``),
never by the transaction that stops referencing them; moving attachments
between the filestore and S3 is ``ir_attachment_migration.py``.
"""

import contextlib
import logging
import os
import time

from odoo import _, api, models
from odoo.exceptions import UserError
from odoo.tools import config as odoo_config

from ..lib import config as s3config
from ..lib import ownership, runtime
from ..lib.store import ContentCollision, S3Error

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
HEALTH_PROBE_INTERVAL_S = 5.0
#: the read cache's default home, beside Odoo's filestore and sessions
CACHE_DIRNAME = "peak_s3_cache"


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
            os.path.join(odoo_config["data_dir"], CACHE_DIRNAME),
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
        # Under the name the database had when it first stored there, which
        # travels with it: a copy or a restore under any name reads them all.
        # (_get_param: the cached value, without get_param's access check,
        # which costs a cached read from disk half its time)
        home = self.env["ir.config_parameter"]._get_param(ownership.HOME_PARAM)
        return state.store.at(state.config.prefix_for(home)) if home else state.store

    @api.model
    def _peak_s3_reason(self, exc) -> str:
        if exc.reason == "unavailable":
            return _("it did not answer lately; tried again every few seconds")
        return exc.reason

    @api.model
    def _peak_s3_pin_home(self) -> None:
        """Before the first object is written: its prefix is this name's."""
        params = self.env["ir.config_parameter"].sudo()
        if not params.get_param(ownership.HOME_PARAM):
            params.set_param(ownership.HOME_PARAM, self.env.cr.dbname)

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
        self._peak_s3_pin_home()
        try:
            store.put_content(store.key(s3config.relative(fname)), bin_value)
        except ContentCollision as exc:
            # Odoo's filestore refuses the same (a SHA-1 collision), in words
            # users already get translated.
            _logger.error("refused %s: %s", fname, exc)
            message = _("The attachment collides with an existing file.")
            raise UserError(message) from exc
        except S3Error as exc:
            _logger.error("upload of %s to S3 failed: %s", fname, exc)
            raise S3StorageError(
                _(
                    "The file could not be stored: the S3 attachment storage is "
                    "unavailable (%(reason)s). Nothing was saved; please try "
                    "again in a moment.",
                    reason=self._peak_s3_reason(exc),
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
        key = store.key(s3config.relative(fname))
        try:
            return store.get_cached(key, s3config.checksum_of(fname))
        except S3Error as exc:
            data = self._peak_s3_recover(store, fname, exc)
            if data is not None:
                return data
            _logger.error("read of %s from S3 failed: %s", fname, exc)
            if exc.reason == "not_found":
                message = _(
                    "The file %(name)s is missing from the S3 attachment storage.",
                    name=fname,
                )
            elif exc.reason == "corrupt":
                message = _(
                    "The file %(name)s in the S3 attachment storage does not "
                    "match its checksum: it was changed or damaged there.",
                    name=fname,
                )
            else:
                message = _(
                    "The file could not be read: the S3 attachment storage is "
                    "unavailable (%(reason)s). Please try again in a moment.",
                    reason=self._peak_s3_reason(exc),
                )
            raise S3StorageError(message) from exc

    @api.model
    def _peak_s3_recover(self, store, fname, exc):
        """After a read that failed with ``exc``: the object brought back from
        the GC's quarantine (collected by a database that did not need it any
        more), or None."""
        if exc.reason != "not_found":
            return None
        with contextlib.suppress(S3Error):
            return self._peak_s3_unquarantine(store, fname)
        return None

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
            sha1=s3config.checksum_of(self.store_fname),
            chunked=(self.file_size or 0) >= cfg.stream_min_bytes,
        )
        fname = self.store_fname
        stream.recover = lambda exc: self._peak_s3_recover(store, fname, exc)
        # Images may be resized by ir.binary, which reads them: never redirect.
        large_document = not (self.mimetype or "").startswith("image/")
        size = self.file_size or 0
        if large_document and cfg.presign_min_bytes and size >= cfg.presign_min_bytes:
            stream.type = "url"
            stream.presigned = True  # signed in get_response, for its disposition
            stream.max_age = 0  # a 302, never a cacheable 301
        return stream

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
            "prefix": "",
        }
        if wanted and not state.usable:
            info["status"] = "misconfigured"
            return info
        if not state.usable:
            info["status"] = "disabled"
            return info
        store = self._peak_s3_store()
        info["prefix"] = store.prefix
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
