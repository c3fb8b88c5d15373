# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging
import time

import psycopg2

from odoo import _, api, fields, models

from ..lib import ownership
from ..lib.store import S3Error

_logger = logging.getLogger(__name__)

#: Settings shows where attachments are; counting reads the whole table.
COUNTS_TTL_S = 300
COUNT_TIMEOUT_S = 2
_COUNTS: dict[str, tuple[float, tuple]] = {}  # db -> (monotonic, counts)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    peak_s3_storage = fields.Char("Attachment storage", readonly=True)
    peak_s3_health = fields.Char("Storage health", readonly=True)
    peak_s3_counts = fields.Char("Attachments", readonly=True)
    peak_s3_owner = fields.Char("Garbage collection", readonly=True)

    @api.model
    def get_values(self):
        res = super().get_values()
        attachments = self.env["ir.attachment"].sudo()
        info = attachments._peak_s3_health(probe=True)
        if info["storage"] == "s3":
            storage = _(
                "S3 bucket %(bucket)s, prefix %(prefix)s (%(endpoint)s)",
                bucket=info["bucket"],
                prefix=info["prefix"],
                endpoint=info["endpoint_url"] or "AWS",
            )
        else:
            storage = _("Odoo filestore (%s)", info["storage"])
        health = {
            "ok": _("healthy"),
            "disabled": _("S3 not in use"),
            "degraded": _("S3 DEGRADED: %s", info["error"]),
            "misconfigured": _(
                "S3 misconfigured, using the filestore: %s", info["error"]
            ),
        }[info["status"]]
        res.update(
            peak_s3_storage=storage,
            peak_s3_health=health,
            peak_s3_counts=self._peak_s3_counts(),
            peak_s3_owner=self._peak_s3_owner_text(info),
        )
        return res

    @api.model
    def _peak_s3_owner_text(self, info) -> str:
        if info["status"] in ("disabled", "misconfigured"):
            return ""
        attachments = self.env["ir.attachment"].sudo()
        try:
            store = attachments._peak_s3_store()
            marker = attachments._peak_s3_marker(store)
        except S3Error as exc:
            return _("unknown: S3 did not answer (%s)", exc.reason)
        status, why = ownership.verdict(marker, attachments._peak_s3_me())
        if status == ownership.OWNER:
            return _(
                "this database owns its prefix: unused files go to quarantine "
                "for %s days",
                store.cfg.quarantine_days,
            )
        if status == ownership.UNCLAIMED:
            return _("no owner yet: the next heartbeat or collection claims it")
        return _(
            "OFF, nothing is deleted: %s. Promote this database if it is now "
            "the one in use.",
            why,
        )

    @api.model
    def _peak_s3_counts(self) -> str:
        """Where the attachments are, counted at most every few minutes per
        worker and within a bound: the count reads the whole table."""
        now = time.monotonic()
        counted = _COUNTS.get(self.env.cr.dbname)
        if counted is None or now - counted[0] > COUNTS_TTL_S:
            counts = self._peak_s3_count_now()
            if counts is None:
                return _("not counted: the count took over %s s", COUNT_TIMEOUT_S)
            counted = _COUNTS[self.env.cr.dbname] = (now, counts)
        in_s3, in_files, in_db = counted[1]
        text = _(
            "%(s3)s in S3, %(files)s in the filestore, %(db)s in the database",
            s3=in_s3,
            files=in_files,
            db=in_db,
        )
        age = int(now - counted[0])
        return text + (_(" (counted %s s ago)", age) if age >= 1 else "")

    @api.model
    def _peak_s3_count_now(self):
        cr = self.env.cr
        cr.execute("SHOW statement_timeout")
        previous = cr.fetchone()[0]
        try:
            with cr.savepoint(flush=False):
                cr.execute("SET LOCAL statement_timeout = %s", [f"{COUNT_TIMEOUT_S}s"])
                cr.execute(
                    """
                    SELECT count(*) FILTER (WHERE store_fname LIKE 's3://%%'),
                           count(*) FILTER (WHERE store_fname NOT LIKE 's3://%%'),
                           count(*) FILTER (WHERE store_fname IS NULL
                                              AND db_datas IS NOT NULL)
                      FROM ir_attachment WHERE type = 'binary'
                    """
                )
                counts = cr.fetchone()
                cr.execute("SET LOCAL statement_timeout = %s", [previous])
        except psycopg2.errors.QueryCanceled:
            _logger.warning(
                "Settings: counting attachments took over %s s, skipped",
                COUNT_TIMEOUT_S,
            )
            return None
        return counts

    def action_peak_s3_migrate(self):
        count = self.env["ir.attachment"]._peak_s3_enqueue_migration("s3")
        return self._peak_s3_notify(
            _("%s attachments queued for S3 (bulk jobs).", count)
        )

    def action_peak_s3_migrate_back(self):
        count = self.env["ir.attachment"]._peak_s3_enqueue_migration("file")
        return self._peak_s3_notify(
            _("%s attachments queued to come back to the filestore.", count)
        )

    def action_peak_s3_promote(self):
        result = self.env["ir.attachment"]._peak_s3_promote()
        return self._peak_s3_notify(
            _(
                "This database now owns %(prefix)s (%(copied)s files copied there).",
                **result,
            )
        )

    def action_peak_s3_restore_quarantined(self):
        result = self.env["ir.attachment"]._peak_s3_restore_quarantined()
        return self._peak_s3_notify(
            _(
                "%(restored)s files brought back from quarantine "
                "(%(in_quarantine)s there).",
                **result,
            )
        )

    @api.model
    def _peak_s3_forget_counts(self):
        _COUNTS.pop(self.env.cr.dbname, None)

    def _peak_s3_notify(self, message):
        self._peak_s3_forget_counts()  # the reload counts again
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "reload"},
            },
        }
