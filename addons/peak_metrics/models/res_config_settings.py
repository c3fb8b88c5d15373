# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import api, fields, models

from ..hooks import get_config
from ..lib.config import MetricsConfigError


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    peak_metrics_url = fields.Char(
        "Scrape URL", compute="_compute_peak_metrics", readonly=True
    )
    peak_metrics_token_set = fields.Boolean(
        "Token set", compute="_compute_peak_metrics", readonly=True
    )
    peak_metrics_status = fields.Char(
        "Metrics status", compute="_compute_peak_metrics", readonly=True
    )

    # Like base_setup's: without a dependency the form's first load (an
    # onchange on a new record) shows these blank until a save.
    @api.depends("company_id")
    def _compute_peak_metrics(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        try:
            config = get_config()
            token_set = bool(config.token)
            status = (
                "enabled: Prometheus sends Authorization: Bearer <PEAK_METRICS_TOKEN>"
                if token_set
                else "disabled: set PEAK_METRICS_TOKEN (environment or [peak_metrics] "
                "token) and restart Odoo"
            )
            if config.allow:
                status += "; allowed from " + ", ".join(str(n) for n in config.allow)
        except MetricsConfigError as exc:
            token_set, status = False, f"misconfigured: {exc}"
        for settings in self:
            settings.peak_metrics_url = f"{base.rstrip('/')}/metrics"
            settings.peak_metrics_token_set = token_set
            settings.peak_metrics_status = status
