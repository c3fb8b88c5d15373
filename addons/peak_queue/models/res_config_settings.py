# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import math

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import governor_settings

EDITABLE = governor_settings.EDITABLE


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # Read by the governor at start, below its flags and env and above its
    # defaults (governor/README.md). A value equal to the governor's default
    # is stored as "unset", so a later default applies to it.
    peak_governor_profile = fields.Selection(
        governor_settings.PROFILES,
        "Governor profile",
        help="Balanced: pause low-priority channels for waves of waiting order "
        "work. Pickers first: also preempt the low-priority job a lone picker "
        "waits on (it runs again later). Observe only: measure, never act.",
    )
    peak_governor_profile_note = fields.Char(
        compute="_compute_peak_governor_profile_note", string="Profile in a line"
    )
    peak_governor_drain_mode = fields.Selection(
        governor_settings.DRAIN_MODES,
        "Drain before windows",
        help="Before a fulfillment window opens, pause background and bulk "
        "channels so running jobs finish first. Automatic: the lead comes from "
        "recent job durations.",
    )
    peak_governor_drain_seconds = fields.Float(
        "Drain lead (s)", help="With a fixed lead: how long before the window."
    )
    peak_governor_elevated_age = fields.Float(
        "Elevated after (s)",
        help="In a fulfillment window, contention is elevated once order work "
        "has waited this long on a lock.",
    )
    peak_governor_severe_age = fields.Float(
        "Severe after (s)",
        help="In a fulfillment window, one wait this long is severe.",
    )
    peak_governor_min_dwell = fields.Float(
        "Calm for (s) before resuming",
        help="Contention must stay lower this long before the governor steps "
        "down a level.",
    )
    peak_governor_max_pause = fields.Float(
        "Longest pause per hour (s)",
        help="A channel paused longer than this within an hour trickles (one job "
        "at a time) for a while.",
    )
    peak_governor_defaults_note = fields.Char(
        compute="_compute_peak_governor_status", string="Governor defaults"
    )
    peak_governor_status_html = fields.Html(
        compute="_compute_peak_governor_status",
        string="Governor status",
        sanitize=False,
    )

    @api.depends("peak_governor_profile")
    def _compute_peak_governor_profile_note(self):
        for settings in self:
            settings.peak_governor_profile_note = governor_settings.profile_summary(
                settings.peak_governor_profile
            )

    # Like base_setup's: without a dependency the form's first load (an
    # onchange on a new record) shows these blank until a save.
    @api.depends("company_id")
    def _compute_peak_governor_status(self):
        defaults = governor_settings.defaults()
        if defaults:
            note = self.env._(
                "Defaults in force when left unchanged: elevated after %(elevated)s s, "
                "severe after %(severe)s s, calm for %(dwell)s s, longest pause "
                "%(pause)s s per hour.",
                elevated=defaults["protected_elevated_enter_age"],
                severe=defaults["protected_severe_enter_age"],
                dwell=defaults["min_dwell_seconds"],
                pause=defaults["max_pause_seconds"],
            )
        else:
            note = self.env._(
                "The peak-governor package is not installed next to Odoo: its "
                "defaults cannot be shown here, and 0 means its default."
            )
        html = self.env["peak.governor.status"].render_html()
        for settings in self:
            settings.peak_governor_defaults_note = note
            settings.peak_governor_status_html = html

    @api.model
    def get_values(self):
        res = super().get_values()
        params = self.env["ir.config_parameter"].sudo()
        defaults = governor_settings.defaults()
        for field_name, setting in EDITABLE.items():
            raw = params.get_param(governor_settings.PARAM_PREFIX + setting)
            try:
                value = float(raw) if raw else None
            except ValueError:
                value = None  # the governor refuses it at start, and says why
            res[field_name] = value if value is not None else defaults.get(setting, 0.0)
        profile = params.get_param(governor_settings.PROFILE_PARAM)
        known = dict(governor_settings.PROFILES)
        res["peak_governor_profile"] = (
            profile if profile in known else governor_settings.DEFAULT_PROFILE
        )
        mode, seconds = governor_settings.drain_from_param(
            params.get_param(governor_settings.DRAIN_PARAM)
        )
        res["peak_governor_drain_mode"] = mode
        res["peak_governor_drain_seconds"] = seconds
        return res

    def set_values(self):
        super().set_values()
        params = self.env["ir.config_parameter"].sudo()
        defaults = governor_settings.defaults()
        for field_name, setting in EDITABLE.items():
            value = self[field_name]
            key = governor_settings.PARAM_PREFIX + setting
            # Without the governor package the default is 0, as before.
            if math.isclose(value, defaults.get(setting, 0.0)):
                params.set_param(key, False)
            else:
                params.set_param(key, repr(value))
        profile = self.peak_governor_profile or governor_settings.DEFAULT_PROFILE
        params.set_param(
            governor_settings.PROFILE_PARAM,
            profile != governor_settings.DEFAULT_PROFILE and profile,
        )
        params.set_param(governor_settings.DRAIN_PARAM, self._peak_drain_param())

    def _peak_drain_param(self):
        return governor_settings.drain_to_param(
            self.peak_governor_drain_mode or "auto", self.peak_governor_drain_seconds
        )

    @api.constrains(
        *EDITABLE,
        "peak_governor_profile",
        "peak_governor_drain_mode",
        "peak_governor_drain_seconds",
    )
    def _check_governor_settings(self):
        for settings in self:
            for field_name in EDITABLE:
                if settings[field_name] < 0:
                    raise ValidationError(
                        self.env._(
                            "%s cannot be negative.",
                            settings._fields[field_name].string,
                        )
                    )
            values = {setting: settings[f] for f, setting in EDITABLE.items()}
            values["profile"] = (
                settings.peak_governor_profile or governor_settings.DEFAULT_PROFILE
            )
            values["drain"] = settings._peak_drain_param() or "auto"
            message = governor_settings.refusal(values)
            if message:
                raise ValidationError(
                    self.env._(
                        "The governor would refuse to start: %s",
                        governor_settings.in_settings_words(message),
                    )
                )
