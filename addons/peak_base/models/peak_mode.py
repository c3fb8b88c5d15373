# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import json
import logging
from datetime import UTC, datetime, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..lib import windows

_logger = logging.getLogger(__name__)

PARAM_MODE = "peak_base.mode"
PARAM_FORCED_OFF_UNTIL = "peak_base.forced_off_until"
# Read by the governor (docs/db-contract.md, "Peak mode for the governor").
PARAM_PROTECTED = "peak_base.protected_intervals"
PUBLISH_HORIZON = timedelta(hours=48)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PeakMode(models.AbstractModel):
    """Peak mode: the one switch the rest of the suite asks about.

    Stored as two system parameters: ``peak_base.mode`` (``auto``, ``on`` or
    ``off``) and ``peak_base.forced_off_until`` (UTC, only with ``off``). The
    rules that turn them into "is Peak mode on now" live in ``lib/windows.py``.
    """

    _name = "peak.mode"
    _description = "Peak mode"

    @api.model
    def _now(self) -> datetime:
        return fields.Datetime.now().replace(tzinfo=UTC)

    @api.model
    def _read_setting(self) -> tuple[str, datetime | None]:
        params = self.env["ir.config_parameter"].sudo()
        mode = params.get_param(PARAM_MODE, "auto")
        if mode not in windows.MODES:
            _logger.warning("ignoring invalid %s=%r, using auto", PARAM_MODE, mode)
            mode = "auto"
        until_raw = params.get_param(PARAM_FORCED_OFF_UNTIL) or None
        until = None
        if until_raw:
            until = fields.Datetime.to_datetime(until_raw).replace(tzinfo=UTC)
        return mode, until

    @api.model
    def _check_internal(self):
        # Public methods answer any logged-in user's RPC: periods and windows
        # (when the warehouse runs its waves) are not for portal users.
        if not (self.env.su or self.env.user._is_internal()):
            raise AccessError(_("Peak mode is for internal users only."))

    @api.model
    def get_state(self, at: datetime | None = None) -> windows.PeakModeState:
        self._check_internal()
        mode, until = self._read_setting()
        periods = self.env["peak.period"]._active_periods()
        return windows.effective_peak_mode(mode, until, periods, at or self._now())

    @api.model
    def get_status(self, at: datetime | None = None) -> dict:
        """Everything an operator or another module asks about Peak mode."""
        at = at or self._now()
        state = self.get_state(at)
        window = windows.window_status(
            self.env["peak.fulfillment.window"]._active_windows(), at
        )
        return {
            "peak_mode": state.on,
            "reason": state.reason,
            "period": state.period.name if state.period else False,
            "in_window": window.active,
            "window_end": window.current_end,
            "next_window_start": window.next_start,
            "fulfillment_protected": state.on and window.active,
        }

    @api.model
    def set_peak_mode(self, enabled: bool, reason: str = "") -> bool:
        """Switch Peak mode by hand; return whether anything changed.

        Every switch says why (``reason``, kept in the audit log): without
        one, a UserError and nothing changes.  Switching it off during a peak
        period forces it off until that period ends; after that, peak periods
        switch it on again by themselves.
        """
        now = self._now()
        periods = self.env["peak.period"]._active_periods()
        mode, until = self._read_setting()
        state = windows.effective_peak_mode(mode, until, periods, now)
        if state.on == bool(enabled):
            return False
        if not (self.env.su or self.env.user.has_group("peak_base.group_peak_manager")):
            raise AccessError(_("Only Peak Operations managers can switch Peak mode."))
        reason = (reason or "").strip()
        if not reason:
            raise UserError(
                _(
                    "Say why you switch Peak mode %s: the reason goes into the "
                    "audit log.",
                    _("on") if enabled else _("off"),
                )
            )
        current_period = windows.period_at(periods, now)
        if enabled:
            mode, until = "on", None
        elif current_period is not None:
            # Off during a peak period: stay off until the period ends.
            mode, until = "off", current_period.end
        else:
            mode, until = "auto", None
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(PARAM_MODE, mode)
        params.set_param(
            PARAM_FORCED_OFF_UNTIL,
            fields.Datetime.to_string(until.replace(tzinfo=None)) if until else False,
        )
        self._log(enabled, "manual", mode, until, reason)
        self._publish_protected_intervals()
        _logger.info(
            "Peak mode switched %s by %s (mode %s)",
            "on" if enabled else "off",
            self.env.user.login,
            mode,
        )
        return True

    @api.model
    def _publish_protected_intervals(self) -> dict:
        """Publish when fulfillment is protected over the next 48 hours.

        Computed from the start of the current hour, so the stored document
        (and Odoo's caches, which a parameter write clears) changes at most
        hourly unless the configuration changes.
        """
        since = self._now().replace(minute=0, second=0, microsecond=0)
        until = since + PUBLISH_HORIZON
        mode, forced_off_until = self._read_setting()
        periods = self.env["peak.period"]._active_periods()
        intervals = windows.protected_intervals(
            self.env["peak.fulfillment.window"]._active_windows(),
            mode,
            forced_off_until,
            periods,
            since,
            until,
        )
        peak = windows.peak_mode_intervals(
            mode, forced_off_until, periods, since, until
        )
        document = {
            "version": 1,
            "valid_from": _iso(since),
            "valid_until": _iso(until),
            "intervals": [[_iso(start), _iso(end)] for start, end in intervals],
            "peak_mode": [[_iso(start), _iso(end)] for start, end in peak],
        }
        params = self.env["ir.config_parameter"].sudo()
        text = json.dumps(document, sort_keys=True)
        if params.get_param(PARAM_PROTECTED) != text:
            params.set_param(PARAM_PROTECTED, text)
        return document

    @api.model
    def _log(self, enabled, source, mode, until, reason=""):
        self.env["peak.mode.log"].sudo().create(
            {
                "state": "on" if enabled else "off",
                "source": source,
                "mode": mode,
                "forced_off_until": until.replace(tzinfo=None) if until else False,
                "reason": (reason or "").strip() or False,
                "user_id": self.env.uid if source == "manual" else False,
            }
        )

    @api.model
    def _cron_record_transitions(self):
        """Log the changes that peak periods (not people) made to Peak mode,
        and keep the governor's view of protected time current."""
        self._publish_protected_intervals()
        state = self.get_state()
        last = self.env["peak.mode.log"].sudo().search([], limit=1)
        last_on = last.state == "on" if last else False
        if state.on == last_on:
            return
        mode, until = self._read_setting()
        reason = (
            _("Peak period “%s”", state.period.name)
            if state.period
            else _("Peak period ended")
        )
        self._log(state.on, "automatic", mode, until, reason)
