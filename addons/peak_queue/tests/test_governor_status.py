# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings > Peak Operations: the governor's defaults and state, as an
operator sees them (real registry, real contract functions)."""

import os
from unittest import mock

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, TransactionCase, tagged

from odoo.addons.peak_queue.lib import governor_settings

PARAM = governor_settings.PARAM_PREFIX


@tagged("post_install", "-at_install")
class TestGovernorSettings(TransactionCase):
    def setUp(self):
        super().setUp()
        params = self.env["ir.config_parameter"].sudo()
        for setting in governor_settings.EDITABLE.values():
            params.set_param(PARAM + setting, False)

    def test_unset_settings_show_the_governors_defaults_not_zero(self):
        defaults = governor_settings.defaults()
        self.assertEqual(defaults["protected_elevated_enter_age"], 0.1)
        settings = self.env["res.config.settings"].create({})
        for field_name, setting in governor_settings.EDITABLE.items():
            self.assertEqual(settings[field_name], defaults[setting], field_name)
            self.assertGreater(settings[field_name], 0)
        self.assertIn("severe after 2.5 s", settings.peak_governor_defaults_note)

    def test_a_changed_value_is_stored_and_the_default_is_stored_as_unset(self):
        params = self.env["ir.config_parameter"].sudo()
        self.env["res.config.settings"].create(
            {"peak_governor_severe_age": 4.0}
        ).execute()
        self.assertEqual(params.get_param(PARAM + "protected_severe_enter_age"), "4.0")
        self.assertFalse(params.get_param(PARAM + "min_dwell_seconds"))
        self.env["res.config.settings"].create(
            {"peak_governor_severe_age": 2.5}
        ).execute()
        self.assertFalse(params.get_param(PARAM + "protected_severe_enter_age"))

    def test_values_the_governor_refuses_are_refused_with_its_message(self):
        params = self.env["ir.config_parameter"].sudo()
        cases = {
            # Settings' labels and the governor's expert names, never the
            # governor's internal threshold names.
            "peak_governor_elevated_age": (
                0.6,
                "“Elevated after \\(s\\)” \\(0.6\\) is looser than the governor's "
                "expert setting normal_elevated_enter_age",
            ),
            "peak_governor_severe_age": (
                0.05,
                "expert setting protected_severe_exit_age \\(1.0\\) is above "
                "“Severe after \\(s\\)” \\(0.05\\)",
            ),
            "peak_governor_max_pause": (
                4000,
                "“Longest pause per hour \\(s\\)” \\(4000.0\\) must be below the "
                "governor's expert setting pause_window_seconds",
            ),
            "peak_governor_min_dwell": (-1, "cannot be negative"),
        }
        for field_name, (value, message) in cases.items():
            with (
                self.subTest(field_name),
                self.assertRaisesRegex(ValidationError, message),
            ):
                self.env["res.config.settings"].create({field_name: value})
            setting = governor_settings.EDITABLE[field_name]
            self.assertFalse(params.get_param(PARAM + setting))

    def test_editable_settings_are_governor_settings(self):
        self.assertTrue(governor_settings.available())
        self.assertIsNone(
            governor_settings.refusal(
                {name: 1.0 for name in ("min_dwell_seconds", "max_pause_seconds")}
            )
        )
        self.assertIn(
            "is not a governor setting",
            governor_settings.refusal({"no_such_setting": 1.0}),
        )


@tagged("post_install", "-at_install")
class TestGovernorStatus(TransactionCase):
    def setUp(self):
        super().setUp()
        self.cr.execute("DELETE FROM peak_queue_governor_leader")
        self.cr.execute("DELETE FROM peak_queue_lease")
        self.status = self.env["peak.governor.status"]

    def test_no_governor_yet_is_a_warning(self):
        status = self.status.get_status()
        self.assertEqual(status["governor"]["state"], "never")
        html = self.status.render_html()
        self.assertIn("alert-warning", html)
        self.assertIn("No governor has run", html)
        self.assertIn("No active lease", html)

    def test_leading_governor_with_level_and_lease_time_left(self):
        self.cr.execute(
            "SELECT * FROM peak_queue_governor_heartbeat("
            "'gov-a:1', 30, 'elevated', 'pickers_first')"
        )
        self.cr.execute(
            "SELECT * FROM peak_queue_lease_acquire("
            "'root.bulk', 'gov-a:1', 'test', '{}'::jsonb, 120)"
        )
        status = self.status.get_status()
        self.assertEqual(status["governor"]["state"], "leading")
        self.assertEqual(status["governor"]["level"], "elevated")
        self.assertLess(status["governor"]["heartbeat_age_s"], 5)
        (lease,) = status["leases"]
        self.assertEqual(lease["channel"], "root.bulk")
        self.assertFalse(lease["trickle"])
        self.assertTrue(100 < lease["remaining_s"] <= 120)
        html = self.status.render_html()
        self.assertIn(
            "Governor on gov-a (process 1) is leading: contention elevated, "
            "profile pickers_first",
            html,
        )
        self.assertIn("root.bulk paused for", html)

    def test_silent_governor_reads_no_governor_seen(self):
        self.cr.execute(
            "SELECT * FROM peak_queue_governor_heartbeat('gov-b:2', 30, 'normal')"
        )
        self.cr.execute(
            "UPDATE peak_queue_governor_leader SET heartbeat_at = heartbeat_at"
            " - interval '95 seconds', expires_at = expires_at - interval '95 seconds'"
        )
        status = self.status.get_status()
        self.assertEqual(status["governor"]["state"], "stale")
        self.assertGreaterEqual(status["governor"]["heartbeat_age_s"], 95)
        self.assertIn("No governor seen for 9", self.status.render_html())

    @freeze_time("2026-12-02 13:30:00")  # inside the all-day window below
    def test_peak_mode_source_and_next_protected_interval(self):
        self.env["peak.period"].search([]).action_archive()
        self.env["peak.mode"].set_peak_mode(True, "status test")
        self.env["peak.fulfillment.window"].search([]).unlink()
        # Every day from 00:00 to 23:59 UTC.
        self.env["peak.fulfillment.window"].create(
            {
                "name": "All day",
                **{
                    day: True
                    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                },
                "start_hour": 0.0,
                "end_hour": 23.99,
                "tz": "UTC",
            }
        )
        self.env["peak.mode"]._publish_protected_intervals()
        status = self.status.get_status()
        self.assertEqual(
            status["peak_mode"], {"on": True, "source": "manual", "period": False}
        )
        self.assertTrue(status["protected"]["now"])
        html = self.status.render_html()
        self.assertIn("switched on by an operator", html)
        self.assertIn("Fulfillment protected now, until", html)

    def test_settings_panel_carries_the_status(self):
        settings = self.env["res.config.settings"].create({})
        self.assertIn("o_peak_governor_status", settings.peak_governor_status_html)

    def test_users_outside_peak_operations_see_nothing(self):
        user = self.env["res.users"].create(
            {"name": "Picker", "login": "picker_status", "groups_id": [(6, 0, [])]}
        )
        self.assertEqual(self.status.with_user(user).get_status(), {})


@tagged("post_install", "-at_install")
class TestChannelCapacity(TransactionCase):
    def test_the_list_shows_the_capacity_in_force(self):
        root = self.env.ref("queue_job.channel_root")
        root.capacity = 0
        runner = root._root_max_capacity()
        self.assertEqual(root.effective_capacity, runner)
        bulk = self.env["queue.job.channel"].search(
            [("complete_name", "=", "root.bulk")]
        )
        bulk.capacity = runner + 3
        self.assertEqual(bulk.effective_capacity, runner, "within root's")
        views = self.env["queue.job.channel"].get_views(
            [(self.env.ref("peak_queue.queue_job_channel_view_list_peak").id, "list"),
             (False, "form")]
        )["views"]  # fmt: skip
        self.assertIn('name="effective_capacity"', views["list"]["arch"])
        self.assertNotIn('name="capacity"', views["list"]["arch"])
        form = views["form"]["arch"]
        self.assertIn("Own limit (0: the parent", form)
        self.assertIn("in force", form)


@tagged("post_install", "-at_install")
class TestChannelsBannerTour(HttpCase):
    def test_channels_list_shows_governor_state(self):
        self.env.cr.execute("DELETE FROM peak_queue_governor_leader")
        self.env.ref("queue_job.channel_root").capacity = 0
        # queue_job reads the job runner's capacity from here at each compute.
        patch = mock.patch.dict(os.environ, {"ODOO_QUEUE_JOB_MAX_CAPACITY": "7"})
        patch.start()
        self.addCleanup(patch.stop)
        self.start_tour(
            "/odoo/action-peak_queue.action_peak_queue_channels",
            "peak_queue_channels_banner_tour",
            login="admin",
        )
