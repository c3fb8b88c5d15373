# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings > Peak Operations > Readiness: the doctor's checks and words."""

import os
import sys
from unittest import mock

from markupsafe import escape

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestReadinessReport(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            "peak_ready_manager",
            groups="base.group_user,peak_base.group_peak_manager",
        )
        cls.clerk = new_test_user(cls.env, "peak_ready_clerk", groups="base.group_user")

    def _report(self, user):
        Report = self.env["peak.readiness.report"].with_user(user)
        return Report.create({})

    def test_same_checks_and_words_as_the_cli(self):
        from peak_governor import doctor

        report = self._report(self.manager)
        Report = self.env["peak.readiness.report"]
        findings = doctor.run_checks(
            self.env.cr, Report._doctor_config(doctor), guard=self.env.cr.savepoint
        )
        self.assertEqual(report.status, doctor.overall(findings))
        html = str(report.report_html)
        for finding in findings:
            self.assertIn(str(escape(finding.check)), html)
        # Stable findings carry the CLI's exact message and fix.
        wal = next(f for f in findings if f.check == "WAL archiving")
        self.assertIn(str(escape(wal.message)), html)
        if wal.fix and wal.status in ("warn", "fail"):
            self.assertIn(str(escape(wal.fix)), html)
        self.assertRegex(report.summary, r"^(PASS|WARN|FAIL): \d+ pass, \d+ warn")

    def test_a_failing_check_shows_up(self):
        # autovacuum off on a hot table: a failure, with its fix.
        self.env.cr.execute(
            "ALTER TABLE ir_attachment SET (autovacuum_enabled = false)"
        )
        report = self._report(self.manager)
        self.assertEqual(report.status, "fail")
        self.assertIn("autovacuum disabled on ir_attachment", str(report.report_html))
        self.assertIn(
            "ALTER TABLE ir_attachment RESET (autovacuum_enabled)",
            str(report.report_html),
        )

    def test_advice_speaks_odoo(self):
        """Inside Odoo the fixes name Odoo's screens and deployment, never
        the doctor's flags; what the deployment sets for the doctor applies."""
        html = str(self._report(self.manager).report_html)
        self.assertNotIn("--pgbackrest-stanza", html)
        self.assertNotIn("--odoo-url", html)
        self.assertIn("backups run outside Odoo", html)
        with mock.patch.dict(
            os.environ,
            {"PEAK_DOCTOR_PGBACKREST_STANZA": "erp", "PEAK_DOCTOR_PROBE_TIMEOUT": "1"},
        ):
            from peak_governor import doctor

            cfg = self.env["peak.readiness.report"]._doctor_config(doctor)
            self.assertEqual((cfg.pgbackrest_stanza, cfg.probe_timeout), ("erp", 1.0))
            self.assertTrue(cfg.inside_odoo)
        with mock.patch.dict(os.environ, {"PEAK_DOCTOR_PROBE_TIMEOUT": "soon"}):
            report = self._report(self.manager)
        self.assertEqual(report.status, "unknown")
        self.assertIn("PEAK_DOCTOR_* settings are refused", report.summary)
        self.assertIn("PEAK_DOCTOR_PROBE_TIMEOUT", report.summary)

    def test_managers_only(self):
        with self.assertRaises(AccessError):
            self._report(self.clerk)

    def test_without_the_governor_package(self):
        with mock.patch.dict(sys.modules, {"peak_governor": None}):
            report = self._report(self.manager)
        self.assertEqual(report.status, "unknown")
        self.assertIn("install peak-governor", report.summary)
