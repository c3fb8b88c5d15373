# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import fields, models

EVENTS = [
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("revoked", "Revoked"),
    ("expired", "Expired"),
    ("used", "Used"),
]


class PeakChangeExceptionLog(models.Model):
    """Append-only audit trail of change exceptions, like ``peak.mode.log``:
    written by ``peak.change.exception`` only (sudo), never edited or deleted."""

    _name = "peak.change.exception.log"
    _inherit = ["peak.audit.log.mixin"]
    _description = "Change exception audit log"
    _order = "id desc"
    _rec_name = "event"

    exception_id = fields.Many2one(
        "peak.change.exception",
        required=True,
        readonly=True,
        ondelete="restrict",
        index=True,
    )
    event = fields.Selection(EVENTS, required=True, readonly=True)
    user_id = fields.Many2one(
        "res.users", string="By", readonly=True, ondelete="restrict"
    )
    note = fields.Text(readonly=True)
    # Snapshots: what the exception covered when the event happened.
    modules = fields.Char(readonly=True)
    expires_at = fields.Datetime(readonly=True)
