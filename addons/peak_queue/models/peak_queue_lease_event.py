# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import json

from odoo import api, fields, models

from ..lib import activity


class PeakQueueLeaseEvent(models.Model):
    """Governor activity: every lease created, renewed, released or expired,
    and every job the governor preempted (opt-in).

    Rows come from the contract's SQL functions only; the ORM can neither edit
    nor delete them.
    """

    _name = "peak.queue.lease.event"
    _inherit = ["peak.audit.log.mixin"]
    _description = "Governor activity"
    _order = "id desc"
    _rec_name = "action"

    lease_id = fields.Many2one("peak.queue.lease", readonly=True, ondelete="set null")
    channel_id = fields.Many2one(
        "queue.job.channel", readonly=True, ondelete="set null"
    )
    channel_name = fields.Char(readonly=True, required=True)
    action = fields.Selection(
        [
            ("created", "Paused"),
            ("renewed", "Renewed"),
            ("released", "Released"),
            ("expired", "Expired"),
            ("preempted", "Job preempted"),
        ],
        required=True,
        readonly=True,
    )
    holder = fields.Char(readonly=True)
    reason = fields.Char("Reason code", readonly=True)
    reason_label = fields.Char(compute="_compute_labels", string="Why")
    holder_label = fields.Char(compute="_compute_labels", string="By")
    evidence = fields.Json("Evidence (JSON)", readonly=True)
    evidence_text = fields.Text(compute="_compute_evidence_text", string="Evidence")
    expires_at = fields.Datetime(readonly=True)

    @api.depends("reason", "holder")
    def _compute_labels(self):
        for event in self:
            event.reason_label = activity.reason_label(event.reason)
            event.holder_label = activity.holder_label(event.holder)

    def _compute_evidence_text(self):
        for event in self:
            event.evidence_text = json.dumps(
                event.evidence or {}, indent=2, sort_keys=True
            )

    def init(self):
        self.env["peak.queue.lease"]._grant_governor_role()
