# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import api, models


class PeakScheduleMixin(models.AbstractModel):
    """Records that shape Peak mode (windows, periods): every change
    re-publishes what the governor reads."""

    _name = "peak.schedule.mixin"
    _description = "Re-publish protected intervals on change"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env["peak.mode"]._publish_protected_intervals()
        return records

    def write(self, vals):
        res = super().write(vals)
        self.env["peak.mode"]._publish_protected_intervals()
        return res

    def unlink(self):
        res = super().unlink()
        self.env["peak.mode"]._publish_protected_intervals()
        return res
