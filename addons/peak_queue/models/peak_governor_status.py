# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""What the workload governor is doing, read from the database contract.

The governor writes its leadership heartbeat (with its contention level) and
its leases through the contract functions; peak_base publishes the protected
intervals. This model only reads them, for Settings > Peak Operations and the
Channels view, so an operator sees at a glance whether a governor is running.
"""

import json
from datetime import UTC, datetime

from markupsafe import Markup

from odoo import api, fields, models

from odoo.addons.peak_base.models.peak_mode import PARAM_PROTECTED

from ..lib import activity

# A heartbeat older than this reads "no governor seen" even before the
# leadership expires (the governor beats every cycle, 1 s by default).
STALE_HEARTBEAT_S = 30


class PeakGovernorStatus(models.AbstractModel):
    _name = "peak.governor.status"
    _description = "Workload governor status"

    @api.model
    def _now(self) -> datetime:
        return fields.Datetime.now().replace(tzinfo=UTC)

    @api.model
    def get_status(self) -> dict:
        """Leader, heartbeat age, level, leases, next protected interval and
        Peak mode's source, as plain data (JSON-friendly)."""
        if not self.env.user.has_group("peak_base.group_peak_user"):
            return {}
        cr = self.env.cr
        cr.execute(
            """
            SELECT holder, level,
                   EXTRACT(EPOCH FROM (now() AT TIME ZONE 'utc') - heartbeat_at),
                   expires_at > (now() AT TIME ZONE 'utc'), profile
              FROM peak_queue_governor_leader WHERE id = 1
            """
        )
        row = cr.fetchone()
        if row is None:
            governor = {"state": "never", "holder": False}
        else:
            holder, level, age, current, profile = row
            age = float(age) if age is not None else None
            stale = not current or age is None or age > STALE_HEARTBEAT_S
            governor = {
                "state": "stale" if stale else "leading",
                "holder": holder,
                "level": level or "normal",
                "heartbeat_age_s": round(age, 1) if age is not None else None,
                "profile": profile or False,
            }
        cr.execute(
            "SELECT channel, remaining_seconds, trickle FROM peak_queue_active_leases()"
            " ORDER BY channel"
        )
        leases = [
            {"channel": channel, "remaining_s": int(remaining), "trickle": trickle}
            for channel, remaining, trickle in cr.fetchall()
        ]
        state = self.env["peak.mode"].get_state()
        return {
            "governor": governor,
            "leases": leases,
            "peak_mode": {
                "on": state.on,
                "source": state.reason,
                "period": state.period.name if state.period else False,
            },
            "protected": self._protected_interval(),
        }

    @api.model
    def _protected_interval(self) -> dict:
        """The protected interval in force now, or the next one published."""
        raw = self.env["ir.config_parameter"].sudo().get_param(PARAM_PROTECTED)
        try:
            document = json.loads(raw or "{}")
        except ValueError:
            document = {}
        now = self._now()
        for start_iso, end_iso in document.get("intervals", []):
            start = datetime.fromisoformat(start_iso)
            end = datetime.fromisoformat(end_iso)
            if end > now:
                return {
                    "now": start <= now,
                    "start": fields.Datetime.to_string(start.replace(tzinfo=None)),
                    "end": fields.Datetime.to_string(end.replace(tzinfo=None)),
                }
        return {}

    @api.model
    def render_html(self) -> Markup:
        """The status as a small HTML panel (Settings and the Channels view)."""
        status = self.get_status()
        if not status:
            return Markup("")
        _ = self.env._
        governor = status["governor"]
        if governor["state"] == "never":
            headline = _("No governor has run on this database yet.")
            tone = "warning"
        elif governor["state"] == "stale":
            age = governor["heartbeat_age_s"]
            headline = _(
                "No governor seen for %(age)s s (last: %(holder)s).",
                age=int(age) if age is not None else "?",
                holder=activity.holder_label(governor["holder"]),
            )
            tone = "warning"
        else:
            who = activity.holder_label(governor["holder"])
            if who == governor["holder"]:  # an --instance-id
                who = _("governor %s", who)
            headline = _(
                "%(holder)s is leading: contention %(level)s, "
                "profile %(profile)s, heartbeat %(age)s s ago.",
                holder=who[:1].upper() + who[1:],
                level=governor["level"],
                profile=governor["profile"] or _("unknown"),
                age=governor["heartbeat_age_s"],
            )
            tone = "danger" if governor["level"] == "severe" else "info"
        lines = [self._peak_mode_line(status["peak_mode"])]
        protected = status["protected"]
        if protected.get("now"):
            lines.append(
                _("Fulfillment protected now, until %s (UTC).", protected["end"])
            )
        elif protected:
            lines.append(
                _(
                    "Next protected interval: %(start)s to %(end)s (UTC).",
                    start=protected["start"],
                    end=protected["end"],
                )
            )
        else:
            lines.append(_("No protected interval in the next 48 hours."))
        if status["leases"]:
            leases = ", ".join(
                _("%(channel)s %(kind)s for %(left)s s")
                % {
                    "channel": lease["channel"],
                    "kind": _("trickles") if lease["trickle"] else _("paused"),
                    "left": lease["remaining_s"],
                }
                for lease in status["leases"]
            )
            lines.append(_("Active leases: %s.", leases))
        else:
            lines.append(_("No active lease: every channel runs."))
        items = Markup("").join(Markup("<li>{}</li>").format(line) for line in lines)
        return Markup(
            '<div class="alert alert-{} mb-0 o_peak_governor_status" role="status">'
            '<strong>{}</strong><ul class="mb-0">{}</ul></div>'
        ).format(tone, headline, items)

    @api.model
    def _peak_mode_line(self, peak_mode) -> str:
        _ = self.env._
        source = peak_mode["source"]
        if source == "manual":
            return _("Peak mode on: switched on by an operator.")
        if source == "peak_period":
            return _("Peak mode on: peak period %s.", peak_mode["period"])
        if source == "forced_off":
            return _("Peak mode forced off by an operator until the period ends.")
        return _("Peak mode off.")
