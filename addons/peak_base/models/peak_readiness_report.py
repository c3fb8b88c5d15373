# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings > Peak Operations > Readiness: the doctor's checks, in Odoo.

The checks live once, in ``peak_governor.doctor`` (pure functions over a DB-API
cursor), so managers read exactly the words ``peak-governor doctor`` prints.
The governor package is optional for Odoo: without it the report says how to
get it instead of failing.
"""

import logging
import os

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import config

_logger = logging.getLogger(__name__)
MISSING = (
    "install peak-governor (pip install ./settings ./governor) in Odoo's environment"
)
BADGES = {"pass": "success", "warn": "warning", "fail": "danger", "skip": "secondary"}


def _doctor():
    try:
        from peak_governor import doctor
    except ImportError:
        return None
    return doctor


class PeakReadinessReport(models.TransientModel):
    _name = "peak.readiness.report"
    _description = "Pre-peak readiness report"

    summary = fields.Char(readonly=True)
    status = fields.Selection(
        [
            ("pass", "Ready"),
            ("warn", "Warnings"),
            ("fail", "Not ready"),
            ("unknown", "Unknown"),
        ],
        readonly=True,
    )
    report_html = fields.Html(readonly=True, sanitize=False)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        values.update(self._readiness())
        return values

    @api.model
    def _doctor_config(self, doctor):
        """What this Odoo process knows about its own layout, over what the
        deployment sets for the doctor (PEAK_DOCTOR_*: a pgBackRest stanza,
        targets). A bad PEAK_DOCTOR_* value raises doctor.DoctorConfigError."""
        from peak_settings import read_options  # installed with peak_governor

        misc = getattr(config, "misc", {}) or {}
        channels = (misc.get("queue_job") or {}).get("channels") or ""
        wide = config.get("server_wide_modules") or []
        if isinstance(wide, str):
            wide = wide.split(",")
        deployed = read_options(doctor.DOCTOR_OPTIONS, None, os.environ, "PEAK_DOCTOR_")
        layout = dict(
            inside_odoo=True,
            workers=int(config.get("workers") or 0),
            db_maxconn=int(config.get("db_maxconn") or 64),
            db_maxconn_gevent=int(config.get("db_maxconn_gevent") or 0),
            cron_threads=int(config.get("max_cron_threads") or 0),
            queue_job_channels=channels,
            server_wide_modules=",".join(wide),
            environ=dict(os.environ),
            # The addons' [peak_*] sections: the S3 and Redis checks read
            # them as the addons do.
            sections={
                name: dict(values)
                for name, values in misc.items()
                if name.startswith("peak_")
            },
        )
        return doctor.DoctorConfig(**{**deployed, **layout}).validate()

    @api.model
    def _readiness(self) -> dict:
        doctor = _doctor()
        if doctor is None:
            return {
                "status": "unknown",
                "summary": MISSING,
                "report_html": Markup("<p>%s</p>") % MISSING,
            }
        try:
            doctor_config = self._doctor_config(doctor)
        except doctor.DoctorConfigError as exc:
            summary = f"not run: Odoo's PEAK_DOCTOR_* settings are refused: {exc}"
            return {
                "status": "unknown",
                "summary": summary,
                "report_html": Markup("<p>%s</p>") % summary,
            }
        findings = doctor.run_checks(
            self.env.cr, doctor_config, guard=self.env.cr.savepoint
        )
        overall = doctor.overall(findings)
        counts = {s: sum(f.status == s for f in findings) for s in BADGES}
        summary = (
            f"{overall.upper()}: {counts['pass']} pass, {counts['warn']} warn, "
            f"{counts['fail']} fail, {counts['skip']} skipped"
        )
        rows = Markup("").join(
            Markup(
                '<tr><td><span class="badge text-bg-%s">%s</span></td>'
                "<td>%s</td><td>%s%s</td></tr>"
            )
            % (
                BADGES[f.status],
                f.status.upper(),
                f.check,
                f.message,
                Markup("<br/><small>fix: %s</small>") % f.fix
                if f.fix and f.status in ("warn", "fail")
                else "",
            )
            for f in findings
        )
        html = (
            Markup(
                '<table class="table table-sm o_peak_readiness"><thead><tr>'
                "<th>Status</th><th>Check</th><th>Finding</th></tr></thead>"
                "<tbody>%s</tbody></table>"
            )
            % rows
        )
        _logger.info("readiness report by %s: %s", self.env.user.login, summary)
        return {"status": overall, "summary": summary, "report_html": html}
