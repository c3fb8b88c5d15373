# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    peak_s3_storage = fields.Char("Attachment storage", readonly=True)
    peak_s3_health = fields.Char("Storage health", readonly=True)
    peak_s3_counts = fields.Char("Attachments", readonly=True)

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
        self.env.cr.execute(
            """
            SELECT count(*) FILTER (WHERE store_fname LIKE 's3://%%'),
                   count(*) FILTER (WHERE store_fname NOT LIKE 's3://%%'),
                   count(*) FILTER (WHERE store_fname IS NULL AND db_datas IS NOT NULL)
              FROM ir_attachment WHERE type = 'binary'
            """
        )
        in_s3, in_files, in_db = self.env.cr.fetchone()
        res.update(
            peak_s3_storage=storage,
            peak_s3_health=health,
            peak_s3_counts=_(
                "%(s3)s in S3, %(files)s in the filestore, %(db)s in the database",
                s3=in_s3,
                files=in_files,
                db=in_db,
            ),
        )
        return res

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

    def _peak_s3_notify(self, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "reload"},
            },
        }
