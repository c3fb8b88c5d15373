# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import json
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestPeakMode(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.PeakMode = cls.env["peak.mode"]
        cls.Log = cls.env["peak.mode.log"]
        cls.manager = new_test_user(
            cls.env,
            "peak_manager",
            groups="base.group_user,peak_base.group_peak_manager",
        )
        cls.peak_user = new_test_user(
            cls.env, "peak_user", groups="base.group_user,peak_base.group_peak_user"
        )
        cls.env["peak.period"].search([]).action_archive()

    def test_portal_users_cannot_read_peak_periods_or_windows(self):
        self._period_around_now()
        portal = new_test_user(self.env, "peak_portal", groups="base.group_portal")
        with self.assertRaisesRegex(AccessError, "internal users only"):
            self.PeakMode.with_user(portal).get_status()
        with self.assertRaisesRegex(AccessError, "internal users only"):
            self.PeakMode.with_user(portal).get_state()
        # Any internal user still asks, Peak groups or not; sudo too.
        clerk = new_test_user(self.env, "peak_clerk", groups="base.group_user")
        status = self.PeakMode.with_user(clerk).get_status()
        self.assertEqual(status["period"], "Black Friday week")
        self.assertTrue(
            self.PeakMode.with_user(portal).sudo().get_status()["peak_mode"]
        )

    def _logs(self):
        return self.Log.search([])

    def _period_around_now(self, hours=24):
        now = fields.Datetime.now()
        return self.env["peak.period"].create(
            {
                "name": "Black Friday week",
                "date_start": now - timedelta(hours=1),
                "date_end": now + timedelta(hours=hours),
            }
        )

    def test_manual_switch_is_audited(self):
        before = len(self._logs())
        changed = self.PeakMode.with_user(self.manager).set_peak_mode(True, "wave 1")
        self.assertTrue(changed)
        self.assertTrue(self.PeakMode.get_status()["peak_mode"])
        entry = self._logs()[0]
        self.assertEqual(len(self._logs()), before + 1)
        self.assertEqual(
            (entry.state, entry.source, entry.user_id, entry.reason),
            ("on", "manual", self.manager, "wave 1"),
        )

    def test_switching_to_the_current_state_logs_nothing(self):
        before = len(self._logs())
        self.assertFalse(self.PeakMode.with_user(self.manager).set_peak_mode(False))
        self.assertEqual(len(self._logs()), before)

    def test_a_switch_without_a_reason_is_refused_and_changes_nothing(self):
        before = len(self._logs())
        for reason in ("", "   "):
            with self.assertRaisesRegex(UserError, "Say why you switch Peak mode on"):
                self.PeakMode.with_user(self.manager).set_peak_mode(True, reason)
        self.assertFalse(self.PeakMode.get_status()["peak_mode"])
        self.assertEqual(len(self._logs()), before)
        self.PeakMode.with_user(self.manager).set_peak_mode(True, " wave 1 ")
        self.assertEqual(self._logs()[0].reason, "wave 1")
        with self.assertRaisesRegex(UserError, "Say why you switch Peak mode off"):
            self.PeakMode.with_user(self.manager).set_peak_mode(False)
        self.assertTrue(self.PeakMode.get_status()["peak_mode"])

    def test_plain_user_cannot_switch(self):
        with self.assertRaises(AccessError):
            self.PeakMode.with_user(self.peak_user).set_peak_mode(True)
        self.assertFalse(self.PeakMode.get_status()["peak_mode"])

    def test_audit_log_is_append_only(self):
        self.PeakMode.with_user(self.manager).set_peak_mode(True, "wave")
        entry = self._logs()[0]
        with self.assertRaises(AccessError):
            entry.write({"reason": "rewritten"})
        with self.assertRaises(AccessError):
            entry.unlink()
        with self.assertRaises(AccessError):
            entry.with_user(self.manager).write({"reason": "rewritten"})
        with self.assertRaises(AccessError):
            self.Log.with_user(self.manager).create(
                {"state": "on", "source": "manual", "mode": "on"}
            )
        self.assertEqual(entry.reason, "wave")

    def test_plain_user_cannot_read_audit_log(self):
        self.PeakMode.with_user(self.manager).set_peak_mode(True, "wave")
        with self.assertRaises(AccessError):
            self.Log.with_user(self.peak_user).search([]).read(["state"])

    def test_peak_period_switches_on_and_operator_forces_off(self):
        period = self._period_around_now()
        status = self.PeakMode.get_status()
        self.assertEqual((status["peak_mode"], status["reason"]), (True, "peak_period"))
        self.PeakMode.with_user(self.manager).set_peak_mode(False, "stock count")
        status = self.PeakMode.get_status()
        self.assertEqual((status["peak_mode"], status["reason"]), (False, "forced_off"))
        entry = self._logs()[0]
        self.assertEqual(entry.mode, "off")
        self.assertEqual(entry.forced_off_until, period.date_end)
        # After the period, the forced-off setting no longer matters: the next
        # period switches Peak mode on again.
        later = fields.Datetime.now() + timedelta(days=10)
        self.env["peak.period"].create(
            {
                "name": "Christmas",
                "date_start": later,
                "date_end": later + timedelta(days=3),
            }
        )
        with freeze_time(later + timedelta(hours=1)):
            self.assertTrue(self.PeakMode.get_status()["peak_mode"])

    def test_cron_records_automatic_transitions_once(self):
        self.PeakMode.with_user(self.manager).set_peak_mode(False)
        self._period_around_now()
        before = len(self._logs())
        self.PeakMode._cron_record_transitions()
        self.PeakMode._cron_record_transitions()
        logs = self._logs()
        self.assertEqual(len(logs), before + 1, "one transition, one entry")
        self.assertEqual((logs[0].state, logs[0].source), ("on", "automatic"))
        self.assertFalse(logs[0].user_id)

    def test_settings_toggle_switches_and_logs_reason(self):
        settings = self.env["res.config.settings"].create(
            {"peak_mode": True, "peak_mode_reason": "from settings"}
        )
        action = settings.execute()
        self.assertTrue(self.PeakMode.get_status()["peak_mode"])
        self.assertEqual(self._logs()[0].reason, "from settings")
        # The switch is confirmed, then the page reloads as usual.
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn(
            "Peak mode is now on, switched on by an operator. Logged with your "
            "reason: from settings",
            action["params"]["message"],
        )
        self.assertEqual(action["params"]["next"]["tag"], "reload")
        # Saving again without touching the toggle records nothing new.
        before = len(self._logs())
        action = self.env["res.config.settings"].create({}).execute()
        self.assertEqual(len(self._logs()), before)
        self.assertEqual(action["tag"], "reload")
        # Switching off without a reason is refused: still on, nothing logged.
        with self.assertRaisesRegex(UserError, "Say why you switch Peak mode off"):
            self.env["res.config.settings"].create({"peak_mode": False}).execute()
        self.assertTrue(self.PeakMode.get_status()["peak_mode"])
        self.assertEqual(len(self._logs()), before)

    def test_invalid_stored_mode_falls_back_to_auto(self):
        self.env["ir.config_parameter"].sudo().set_param("peak_base.mode", "maybe")
        self.assertFalse(self.PeakMode.get_status()["peak_mode"])
        self._period_around_now()
        self.assertEqual(self.PeakMode.get_status()["reason"], "peak_period")

    # Published from the start of the current hour for 48 hours: in the
    # afternoon that window holds exactly two whole mornings.
    @freeze_time("2026-12-02 13:30:00")
    def test_protected_intervals_are_published_for_the_governor(self):
        self.env["peak.fulfillment.window"].search([]).action_archive()
        self.PeakMode.with_user(self.manager).set_peak_mode(True, "wave")
        doc = json.loads(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("peak_base.protected_intervals")
        )
        self.assertEqual(doc["intervals"], [], "Peak mode on but no window")
        self.env["peak.fulfillment.window"].create(
            {
                "name": "All day",
                **dict.fromkeys(
                    ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), True
                ),
                "start_hour": 0.0,
                "end_hour": 12.0,
                "tz": "UTC",
            }
        )
        doc = json.loads(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("peak_base.protected_intervals")
        )
        self.assertEqual(len(doc["intervals"]), 2, "two mornings in 48 hours")
        self.assertTrue(all(s.endswith("T00:00:00Z") for s, _e in doc["intervals"][1:]))
        self.PeakMode.with_user(self.manager).set_peak_mode(False, "wave over")
        doc = json.loads(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("peak_base.protected_intervals")
        )
        self.assertEqual(doc["intervals"], [], "Peak mode off: nothing protected")
