# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import api, fields, models
from odoo.exceptions import ValidationError

# The governor reads these system parameters at start (below its flags and
# env, above its defaults; governor/README.md). Empty: the governor's default.
GOVERNOR_PARAMS = {
    "peak_governor_elevated_age": "peak_governor.protected_elevated_enter_age",
    "peak_governor_severe_age": "peak_governor.protected_severe_enter_age",
    "peak_governor_min_dwell": "peak_governor.min_dwell_seconds",
    "peak_governor_max_pause": "peak_governor.max_pause_seconds",
}


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    peak_governor_elevated_age = fields.Float(
        "Elevated after (s)",
        config_parameter=GOVERNOR_PARAMS["peak_governor_elevated_age"],
        help="In a fulfillment window, contention is elevated once order work "
        "has waited this long on a lock (governor default 0.25 s).",
    )
    peak_governor_severe_age = fields.Float(
        "Severe after (s)",
        config_parameter=GOVERNOR_PARAMS["peak_governor_severe_age"],
        help="In a fulfillment window, one wait this long is severe "
        "(governor default 2.5 s).",
    )
    peak_governor_min_dwell = fields.Float(
        "Calm for (s) before resuming",
        config_parameter=GOVERNOR_PARAMS["peak_governor_min_dwell"],
        help="Contention must stay lower this long before the governor steps "
        "down a level (governor default 10 s).",
    )
    peak_governor_max_pause = fields.Float(
        "Longest pause per hour (s)",
        config_parameter=GOVERNOR_PARAMS["peak_governor_max_pause"],
        help="A channel paused longer than this within an hour trickles (one job "
        "at a time) for a while (governor default 900 s).",
    )

    @api.constrains(*GOVERNOR_PARAMS)
    def _check_governor_settings(self):
        for settings in self:
            for name in GOVERNOR_PARAMS:
                if settings[name] < 0:
                    raise ValidationError(
                        self.env._(
                            "%s cannot be negative.", settings._fields[name].string
                        )
                    )
