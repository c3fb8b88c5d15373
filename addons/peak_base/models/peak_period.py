# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import UTC

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..lib import windows


def _aware(value):
    """Odoo stores datetimes as naive UTC."""
    return value.replace(tzinfo=UTC) if value else value


class PeakPeriod(models.Model):
    """Dated peak season (e.g. Black Friday week): Peak mode is on by itself
    for its whole duration, unless an operator forces it off."""

    _name = "peak.period"
    _inherit = ["peak.schedule.mixin"]
    _description = "Peak period"
    _order = "date_start desc, id desc"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    date_start = fields.Datetime("Starts", required=True)
    date_end = fields.Datetime("Ends", required=True)
    note = fields.Text()

    def _to_period(self) -> windows.PeakPeriod:
        self.ensure_one()
        return windows.PeakPeriod(
            start=_aware(self.date_start), end=_aware(self.date_end), name=self.name
        )

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for period in self:
            # In the times the form shows (the user's time zone), not UTC.
            if period.date_end == period.date_start:
                raise ValidationError(
                    _(
                        "Peak period “%(name)s” starts and ends at the same time "
                        "(%(start)s): give it a length.",
                        name=period.name,
                        start=period._local(period.date_start),
                    )
                )
            if period.date_end < period.date_start:
                raise ValidationError(
                    _(
                        "Peak period “%(name)s” ends (%(end)s) before it starts "
                        "(%(start)s).",
                        name=period.name,
                        start=period._local(period.date_start),
                        end=period._local(period.date_end),
                    )
                )
            try:
                period._to_period()
            except windows.WindowError as exc:
                raise ValidationError(
                    _("Peak period “%(name)s”: %(error)s", name=period.name, error=exc)
                ) from exc

    def _local(self, value) -> str:
        """``value`` (naive UTC) as the form shows it, with its zone."""
        local = fields.Datetime.context_timestamp(self, value)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname() or 'UTC'}"

    @api.model
    def _active_periods(self) -> list:
        return [period._to_period() for period in self.sudo().search([])]
