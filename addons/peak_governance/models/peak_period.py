# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, fields, models
from odoo.exceptions import UserError

from .peak_change_freeze import aware


class PeakPeriod(models.Model):
    _inherit = "peak.period"

    # Column name read with plain SQL (lib/sql_guard.py, the doctor check).
    # NOT NULL with a database default (init): a row inserted with SQL by a
    # tool that does not know the switch freezes, and the ORM, the SQL guard,
    # the metrics and the doctor all read it the same way.
    change_freeze = fields.Boolean(
        "Freeze changes",
        default=True,
        required=True,
        help="During this period, installing, upgrading or removing modules and "
        "changing frozen settings need an approved change exception.",
    )

    def init(self):
        self.env.cr.execute(
            "ALTER TABLE peak_period ALTER COLUMN change_freeze SET DEFAULT true"
        )

    def _freezing_now(self):
        """The periods of ``self`` that freeze changes at this moment."""
        now = self.env["peak.change.freeze"]._now()
        return self.filtered(
            lambda p: p.active
            and p.change_freeze
            and aware(p.date_start) <= now < aware(p.date_end)
        )

    def _lifts_freeze(self, vals) -> bool:
        """Would ``vals`` end the freeze of a period under way before its
        time? Switching its freeze off, archiving it, or moving its start
        after now or its end before its current end. Extending it is fine."""
        if ("change_freeze" in vals and not vals["change_freeze"]) or (
            "active" in vals and not vals["active"]
        ):
            return True
        now = self.env["peak.change.freeze"]._now()
        for period in self:
            start = fields.Datetime.to_datetime(vals.get("date_start"))
            end = fields.Datetime.to_datetime(vals.get("date_end"))
            if (start and aware(start) > now) or (end and end < period.date_end):
                return True
        return False

    def _refuse_lifting(self, action):
        period = self[:1]
        raise UserError(
            _(
                "Peak period “%(name)s” is under way and freezes changes: it "
                "cannot be %(action)s before it ends (that would lift the change "
                "freeze). For an urgent change, ask for a change exception.",
                name=period.name,
                action=action,
            )
        )

    def write(self, vals):
        current = self._freezing_now()
        if current and current._lifts_freeze(vals):
            current._refuse_lifting(_("shortened, archived or unfrozen"))
        return super().write(vals)

    def unlink(self):
        current = self._freezing_now()
        if current:
            current._refuse_lifting(_("deleted"))
        return super().unlink()
