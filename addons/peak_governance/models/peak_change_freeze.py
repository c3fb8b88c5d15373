# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging
from datetime import UTC, datetime

from odoo import api, models
from odoo.exceptions import UserError

from ..lib import freeze, frozen_settings

_logger = logging.getLogger(__name__)

PARAM_SCOPE = "peak_governance.freeze_scope"


def aware(value):
    """Odoo stores datetimes as naive UTC."""
    return value.replace(tzinfo=UTC) if value else value


class PeakChangeFreeze(models.AbstractModel):
    """The change freeze, as the ORM sees it: reads the calendar and the
    exceptions, lets ``lib/freeze.py`` decide."""

    _name = "peak.change.freeze"
    _description = "Peak change freeze"

    @api.model
    def _now(self) -> datetime:
        return self.env["peak.mode"]._now()

    @api.model
    def _scope(self) -> str:
        scope = self.env["ir.config_parameter"].sudo().get_param(PARAM_SCOPE)
        return scope if scope in freeze.SCOPES else "periods"

    @api.model
    def _periods(self) -> list:
        """The active peak periods whose "Freeze changes" switch is on."""
        periods = self.env["peak.period"].sudo().search([("change_freeze", "=", True)])
        return [period._to_period() for period in periods]

    @api.model
    def get_freeze(self, at: datetime | None = None) -> freeze.Freeze:
        at = at or self._now()
        peak_on = self.env["peak.mode"].sudo().get_state(at).on
        return freeze.freeze_at(self._scope(), self._periods(), peak_on, at)

    @api.model
    def _check_modules(self, names, action: str, **pending) -> freeze.Decision:
        """Refuse ``action`` on modules ``names`` during a freeze unless every
        one is covered; log the exceptions that let it through."""
        at = self._now()
        current = self.get_freeze(at)
        exceptions = self.env["peak.change.exception"].sudo()
        if current.active:
            exceptions = exceptions.search([("state", "=", "approved")])
        # ``pending``: modules already marked, which may follow covered ones.
        rules = [e._to_rule() for e in exceptions]
        decision = freeze.decide(current, rules, names, at, **pending)
        if not decision.allowed:
            _logger.warning(
                "refused to %s %s during the change freeze (%s), user %s",
                action,
                ", ".join(decision.uncovered),
                freeze.describe_freeze(current),
                self.env.user.login,
            )
            raise UserError(freeze.refusal_message(decision, action))
        if decision.used:
            exceptions.browse(decision.used)._log_use(action, decision.modules)
        return decision

    @api.model
    def _check_settings(self, settings, what: str) -> freeze.Decision:
        """Refuse a change touching frozen ``settings`` (``FrozenSetting``)
        during a freeze unless an exception names each; log the ones used."""
        at = self._now()
        current = self.get_freeze(at)
        if not current.active:
            return frozen_settings.decide_setting(current, [], settings, at)
        exceptions = (
            self.env["peak.change.exception"]
            .sudo()
            .search([("state", "=", "approved"), ("setting_ids", "!=", False)])
        )
        rules = [e._to_rule() for e in exceptions]
        decision = frozen_settings.decide_setting(current, rules, settings, at)
        if not decision.allowed:
            _logger.warning(
                "refused to %s during the change freeze (%s), user %s",
                what,
                freeze.describe_freeze(current),
                self.env.user.login,
            )
            raise UserError(frozen_settings.setting_refusal_message(decision, what))
        if decision.used:
            exceptions.browse(decision.used)._log_use(what, decision.modules)
        return decision
