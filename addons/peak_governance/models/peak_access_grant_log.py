# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import fields, models

EVENTS = [
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("activated", "Activated"),
    ("ended", "Ended"),
    ("revoked", "Revoked"),
]


class PeakAccessGrantLog(models.Model):
    """Append-only audit trail of access grants, like
    ``peak.change.exception.log``: written by ``peak.access.grant`` only
    (sudo), never edited or deleted."""

    _name = "peak.access.grant.log"
    _inherit = ["peak.audit.log.mixin"]
    _description = "Peak access grant audit log"
    _order = "id desc"
    _rec_name = "event"

    grant_id = fields.Many2one(
        "peak.access.grant",
        required=True,
        readonly=True,
        ondelete="restrict",
        index=True,
    )
    event = fields.Selection(EVENTS, required=True, readonly=True)
    user_id = fields.Many2one(
        "res.users", string="By", readonly=True, ondelete="restrict"
    )
    # Snapshots: who got (or lost) which groups when the event happened.
    grant_user_id = fields.Many2one(
        "res.users",
        string="User",
        readonly=True,
        ondelete="restrict",
        context={"active_test": False},
    )
    groups = fields.Char(readonly=True)
    date_end = fields.Datetime("Grant end", readonly=True)
    note = fields.Text(readonly=True)
