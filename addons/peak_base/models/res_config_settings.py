# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    peak_mode = fields.Boolean(
        "Peak mode",
        help="Protect order fulfillment: the governor pauses low-priority jobs "
        "when they slow fulfillment down. Peak periods switch it on by themselves.",
    )
    peak_mode_reason = fields.Char(
        "Reason", help="Why you switch Peak mode; kept in the audit log."
    )
    peak_mode_status = fields.Char("Current state", readonly=True)
    # The state the form was loaded with: a switch needs a reason (the view
    # requires one when the toggle differs from it).
    peak_mode_was = fields.Boolean(readonly=True)

    @api.model
    def get_values(self):
        res = super().get_values()
        status = self.env["peak.mode"].get_status()
        res.update(
            peak_mode=status["peak_mode"],
            peak_mode_was=status["peak_mode"],
            peak_mode_status=self._describe(status),
        )
        return res

    @api.model
    def _describe(self, status: dict) -> str:
        reasons = {
            "manual": _("on, switched on by an operator"),
            "peak_period": _("on, peak period “%s”", status["period"]),
            "forced_off": _(
                "off, forced off by an operator until the peak period ends"
            ),
            "off": _("off"),
        }
        text = reasons[status["reason"]]
        if status["in_window"]:
            text += _("; inside a fulfillment window")
        return text

    def set_values(self):
        super().set_values()
        # Only a real change is recorded: saving other settings logs nothing.
        self.env["peak.mode"].set_peak_mode(self.peak_mode, self.peak_mode_reason or "")

    def execute(self):
        peak_mode = self.env["peak.mode"]
        switched = self.peak_mode != peak_mode.get_status()["peak_mode"]
        action = super().execute()
        if not switched or (action or {}).get("tag") != "reload":
            return action
        status = peak_mode.get_status()
        # Confirm the switch, then reload as Odoo would have.
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Peak mode switched"),
                "message": _(
                    "Peak mode is now %(state)s. Logged with your reason: %(reason)s",
                    state=self._describe(status),
                    reason=(self.peak_mode_reason or "").strip(),
                ),
                "type": "success",
                "next": action,
            },
        }
