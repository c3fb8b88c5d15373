# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import fnmatch

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .queue_job_channel import PRIORITY_CLASSES

CLASS_CHANNELS = {
    "critical": "root.critical",
    "operational": "root.operational",
    "background": "root.background",
    "bulk": "root.bulk",
}


class PeakQueueFunctionRule(models.Model):
    """Which priority class a job function belongs to, by name pattern.

    Applies to job functions that have no explicit channel (no
    ``queue.job.function`` record): queue_job would put them in ``root``,
    where nothing could tell a bulk import from an order confirmation.
    """

    _name = "peak.queue.function.rule"
    _description = "Job function class rule"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    pattern = fields.Char(
        required=True,
        help="Job function name, shell-style wildcards allowed, e.g. "
        "<base_import.import>.* or *._recompute_*",
    )
    priority_class = fields.Selection(PRIORITY_CLASSES, required=True, string="Class")
    note = fields.Char()

    @api.constrains("pattern")
    def _check_pattern(self):
        for rule in self:
            pattern = (rule.pattern or "").strip()
            if not pattern or len(pattern) > 256 or pattern != rule.pattern:
                raise ValidationError(
                    _(
                        "A rule pattern must be 1-256 characters without surrounding "
                        "spaces."
                    )
                )

    @api.model
    def _class_for(self, function_name: str) -> str | None:
        for rule in self.sudo().search([]):
            if fnmatch.fnmatchcase(function_name, rule.pattern):
                return rule.priority_class
        return None

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        res = super().write(vals)
        self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res
