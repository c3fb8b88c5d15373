# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, fields, models


class PeakModeLog(models.Model):
    """Append-only audit trail of every Peak mode change.

    Rows are written by ``peak.mode`` only; nobody, not even the superuser
    through the ORM, may edit or delete them.
    """

    _name = "peak.mode.log"
    _inherit = ["peak.audit.log.mixin"]
    _description = "Peak mode audit log"
    _order = "id desc"
    _rec_name = "summary"

    state = fields.Selection(
        [("on", "On"), ("off", "Off")], required=True, readonly=True
    )
    source = fields.Selection(
        [("manual", "Operator"), ("automatic", "Peak period")],
        required=True,
        readonly=True,
    )
    reason = fields.Text(readonly=True)
    user_id = fields.Many2one(
        "res.users", string="By", readonly=True, ondelete="restrict"
    )
    mode = fields.Selection(
        [("auto", "Automatic"), ("on", "Forced on"), ("off", "Forced off")],
        string="Setting after change",
        required=True,
        readonly=True,
    )
    forced_off_until = fields.Datetime(readonly=True)
    summary = fields.Char(compute="_compute_summary")

    def _compute_summary(self):
        for entry in self:
            entry.summary = _(
                "Peak mode %(state)s (%(source)s)",
                state=dict(self._fields["state"].selection)[entry.state],
                source=dict(self._fields["source"].selection)[entry.source],
            )
