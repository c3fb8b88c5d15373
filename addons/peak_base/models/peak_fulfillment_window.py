# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.base.models.res_partner import _tz_get

from ..lib import windows

WEEKDAY_FIELDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PeakFulfillmentWindow(models.Model):
    """A weekly recurring stretch of time when orders are picked and shipped.

    Inside a window, while Peak mode is on, the governor protects fulfillment
    work more aggressively. Times are local wall-clock times of ``tz``; an end
    before the start means the window runs past midnight.
    """

    _name = "peak.fulfillment.window"
    _inherit = ["peak.schedule.mixin"]
    _description = "Fulfillment window"
    _order = "sequence, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    mon = fields.Boolean("Monday")
    tue = fields.Boolean("Tuesday")
    wed = fields.Boolean("Wednesday")
    thu = fields.Boolean("Thursday")
    fri = fields.Boolean("Friday")
    sat = fields.Boolean("Saturday")
    sun = fields.Boolean("Sunday")
    start_hour = fields.Float(
        "Starts at", required=True, default=6.0, help="Local time the window opens."
    )
    end_hour = fields.Float(
        "Ends at",
        required=True,
        default=14.0,
        help="Local time the window closes; earlier than the start means the "
        "next day (the window spans midnight).",
    )
    tz = fields.Selection(
        _tz_get,
        string="Timezone",
        required=True,
        default=lambda self: self._default_tz(),
    )
    spans_midnight = fields.Boolean(compute="_compute_spans_midnight")

    @api.model
    def _default_tz(self) -> str:
        """The user's zone (as the web client sends it), else the company's,
        else UTC: windows are the warehouse's local hours."""
        known = {name for name, _label in _tz_get(self)}
        for candidate in (
            self.env.context.get("tz"),
            self.env.user.tz,
            self.env.company.partner_id.tz,
        ):
            if candidate in known:
                return candidate
        return "UTC"

    @api.depends("start_hour", "end_hour")
    def _compute_spans_midnight(self):
        for window in self:
            window.spans_midnight = window.end_hour < window.start_hour

    def _to_window(self) -> windows.WeeklyWindow:
        """The pure-Python window; raises windows.WindowError on bad values."""
        self.ensure_one()
        return windows.WeeklyWindow(
            weekdays=frozenset(
                day for day, name in enumerate(WEEKDAY_FIELDS) if self[name]
            ),
            start=windows.float_hours_to_time(self.start_hour),
            end=windows.float_hours_to_time(self.end_hour),
            tz=self.tz,
            name=self.name or "",
        )

    @api.constrains("start_hour", "end_hour", "tz", *WEEKDAY_FIELDS)
    def _check_window(self):
        for window in self:
            try:
                window._to_window()
            except windows.WindowError as exc:
                raise ValidationError(
                    _(
                        "Fulfillment window “%(name)s”: %(error)s",
                        name=window.name,
                        error=exc,
                    )
                ) from exc

    @api.model
    def _active_windows(self) -> list:
        return [window._to_window() for window in self.sudo().search([])]
