# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Which database owns a key prefix, the quarantine, and promotion.

The rules are ``lib/ownership.py``'s.  Here: the owner's heartbeat (a cron
every 30 minutes, and each GC run), which raises the generation in the
database and then in the bucket's marker, so that a backup restored under the
same name more than a heartbeat after it was taken finds itself stale; the
quarantine the GC moves objects to, read back by itself when a row still
needs an object; and promotion, which makes a copy the owner.
"""

import logging

from odoo import SUPERUSER_ID, _, api, models
from odoo.exceptions import UserError

from ..lib import config as s3config
from ..lib import metrics, ownership
from ..lib.store import S3Error

_logger = logging.getLogger(__name__)


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    # -- identity ------------------------------------------------------------

    @api.model
    def _peak_s3_me(self) -> ownership.Owner:
        # The generation as committed, in a snapshot of now: a claim commits
        # it in a cursor of its own, after this transaction began.
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT value FROM ir_config_parameter WHERE key = %s",
                [ownership.GENERATION_PARAM],
            )
            row = cr.fetchone()
        return ownership.Owner(
            self.env.cr.dbname,
            self.env["ir.config_parameter"].sudo().get_param("database.uuid") or "",
            int(row[0]) if row and row[0] else 0,
        )

    @api.model
    def _peak_s3_marker(self, store) -> ownership.Owner | None:
        raw = store.get_if_exists(store.key(ownership.MARKER))
        if raw is None:
            return None
        try:
            return ownership.Owner.from_json(raw)
        except ValueError as exc:
            # Never guess: an unreadable marker is someone else's prefix.
            return ownership.Owner(f"unreadable marker ({exc})", "?", 1 << 62)

    @api.model
    def _peak_s3_claim(self, store, marker, me=None) -> ownership.Owner:
        """Raise the generation: in the database (committed at once), then in
        the marker; a crash in between leaves the database ahead, still the
        owner."""
        new = ownership.next_owner(marker, me or self._peak_s3_me())
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["ir.config_parameter"].set_param(
                ownership.GENERATION_PARAM, str(new.generation)
            )
        store.put(
            store.key(ownership.MARKER), new.to_json(), mimetype="application/json"
        )
        return new

    @api.model
    def _peak_s3_owns(self, store) -> bool:
        """Whether this database may delete under ``store``'s prefix; raises
        its generation (the heartbeat) when it does.  A refusal is logged once
        per call and counted."""
        marker, me = self._peak_s3_marker(store), self._peak_s3_me()
        status, why = ownership.verdict(marker, me)
        if status in ownership.REFUSALS:
            metrics.S3_GC_REFUSALS.labels(status).inc()
            _logger.error(
                "S3 GC refused under %s: %s. Nothing is deleted there; if this "
                "database is now the one in use, promote it (Settings > Peak "
                "Operations > Attachment storage).",
                store.prefix,
                why,
            )
            return False
        self._peak_s3_claim(store, marker, me)
        return True

    @api.model
    def _peak_s3_heartbeat(self):
        """Cron: the owner says it is alive (see the module docstring)."""
        state = self._peak_s3_runtime()
        if not (state.config and state.config.bucket):
            return
        state.start()
        if not state.usable or not state.config.prefix_per_database:
            return
        params = self.env["ir.config_parameter"].sudo()
        if not params.get_param(ownership.HOME_PARAM):
            return  # nothing stored in S3 yet: nothing to own
        try:
            self._peak_s3_owns(self._peak_s3_store())
        except S3Error as exc:
            _logger.warning("S3 owner heartbeat failed, retried next run: %s", exc)

    # -- quarantine ------------------------------------------------------------

    @api.model
    def _peak_s3_quarantine_key(self, store, key: str) -> str:
        return store.cfg.quarantine_prefix + key

    @api.model
    def _peak_s3_quarantine(self, store, keys: list[str]) -> int:
        """Move ``keys`` to the quarantine: every copy first (a failed one
        raises), then one delete."""
        for key in keys:
            store.copy(key, self._peak_s3_quarantine_key(store, key))
        removed = store.delete_many(keys)
        metrics.S3_GC_OBJECTS.labels("quarantined").inc(removed)
        return removed

    @api.model
    def _peak_s3_unquarantine(self, store, fname: str):
        """The content of ``fname`` brought back from the quarantine, or None."""
        key = store.key(s3config.relative(fname))
        kept = self._peak_s3_quarantine_key(store, key)
        try:
            data = store.get(kept, sha1=s3config.checksum_of(fname))
        except S3Error as exc:
            if exc.reason == "not_found":
                return None
            raise
        store.copy(kept, key)
        metrics.S3_GC_OBJECTS.labels("restored").inc()
        _logger.warning(
            "S3: %s was in quarantine and a row still uses it: brought back "
            "(a restored or copied database, or one that was not the owner)",
            fname,
        )
        return data

    @api.model
    def _peak_s3_restore_quarantined(self) -> dict:
        """Bring back every quarantined object this database references
        (``odoo shell``: ``env['ir.attachment']._peak_s3_restore_quarantined()``)."""
        self._peak_s3_check_admin()
        store = self._peak_s3_store()
        root = self._peak_s3_quarantine_key(store, store.prefix)
        found = restored = 0
        for page in store.list_pages(prefix=root):
            fnames = {
                fname: key
                for key, _modified in page
                if (fname := s3config.fname_from_key(root, key))
            }
            found += len(fnames)
            for fname in sorted(self._peak_referenced(fnames)):
                if store.head(store.key(s3config.relative(fname))) is None:
                    store.copy(fnames[fname], store.key(s3config.relative(fname)))
                    restored += 1
        metrics.S3_GC_OBJECTS.labels("restored").inc(restored)
        _logger.info("S3 quarantine: %d objects, %d brought back", found, restored)
        return {"in_quarantine": found, "restored": restored}

    # -- promotion -------------------------------------------------------------

    @api.model
    def _peak_s3_promote(self) -> dict:
        """Make this database the owner: of its home prefix when it has the
        home name (a restore that replaces the live database), else of the
        prefix of its own name, after copying every object it uses there."""
        self._peak_s3_check_admin()
        state = self._peak_s3_runtime()
        home = self._peak_s3_store()
        own = state.store.at(state.config.prefix_for(self.env.cr.dbname))
        copied = 0
        if own.prefix != home.prefix:
            self.env.cr.execute(
                "SELECT DISTINCT store_fname FROM ir_attachment "
                "WHERE store_fname LIKE 's3://%%'"
            )
            for (fname,) in self.env.cr.fetchall():
                relative = s3config.relative(fname)
                if own.head(own.key(relative)) is None:
                    if home.head(home.key(relative)) is None:
                        raise UserError(
                            _(
                                "Cannot promote: %(name)s is missing under "
                                "%(prefix)s. Nothing changed.",
                                name=fname,
                                prefix=home.prefix,
                            )
                        )
                    own.copy(home.key(relative), own.key(relative))
                    copied += 1
            self.env["ir.config_parameter"].sudo().set_param(
                ownership.HOME_PARAM, self.env.cr.dbname
            )
        owner = self._peak_s3_claim(own, self._peak_s3_marker(own))
        _logger.warning(
            "S3: database %s promoted, owner of %s (generation %d, %d objects "
            "copied from %s)",
            self.env.cr.dbname,
            own.prefix,
            owner.generation,
            copied,
            home.prefix,
        )
        return {"prefix": own.prefix, "copied": copied}
