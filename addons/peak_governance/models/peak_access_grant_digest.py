# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging

from markupsafe import Markup, escape

from odoo import _, api, fields, models

from ..lib import grants
from .peak_approval_mixin import APPROVER_GROUP

_logger = logging.getLogger(__name__)


class PeakAccessGrant(models.Model):
    _inherit = "peak.access.grant"

    def _digest_sections(self, now):
        horizon = grants.DIGEST_HORIZON
        candidates = self.sudo().search(
            [
                "|",
                ("state", "in", ("requested", "approved", "active")),
                ("ended_at", ">=", (now - horizon).replace(tzinfo=None)),
            ]
        )
        ids = grants.digest([c._to_rule() for c in candidates], now, horizon)
        titles = {
            "requested": _("Pending requests"),
            "active": _("Active grants"),
            "ending": _("Ending within 7 days"),
            "ended": _("Ended or revoked in the past 7 days"),
        }
        return [
            (titles[key], candidates.browse(found))
            for key, found in ids.items()
            if found
        ]

    def _digest_html(self, sections):
        rows = Markup("")
        for title, records in sections:
            items = Markup("").join(
                Markup("<li>%s: %s, %s → %s (%s)</li>")
                % (
                    g.user_id.name,
                    ", ".join(g.group_ids.mapped("full_name")),
                    fields.Datetime.to_string(g.date_start),
                    fields.Datetime.to_string(g.date_end),
                    dict(g._fields["state"].selection)[g.state],
                )
                for g in records
            )
            rows += Markup("<h3>%s</h3><ul>%s</ul>") % (title, items)
        return Markup("<p>%s</p>%s<p>%s</p>") % (
            _("Peak access grants this week (times in UTC):"),
            rows,
            escape(_("Review them in Peak Operations > Peak access grants.")),
        )

    @api.model
    def _cron_send_digest(self):
        """One email to each approver: pending, active, ending soon and
        recently ended grants. Nothing to say, nothing sent."""
        sections = self._digest_sections(self._now())
        if not sections:
            return self.env["mail.mail"]
        approvers = (
            self.env.ref(APPROVER_GROUP)
            .sudo()
            .users.filtered(lambda u: u.active and u.email)
        )
        body = self._digest_html(sections)
        subject = _("Peak access grants: weekly digest")
        mails = (
            self.env["mail.mail"]
            .sudo()
            .create(
                [
                    {
                        "subject": subject,
                        "body_html": body,
                        "recipient_ids": [fields.Command.link(user.partner_id.id)],
                        "auto_delete": False,
                    }
                    for user in approvers
                ]
            )
        )
        _logger.info("access grant digest queued for %s approvers", len(mails))
        return mails
