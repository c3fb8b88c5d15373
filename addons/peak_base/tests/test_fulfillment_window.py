# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import UTC, datetime

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestFulfillmentWindow(TransactionCase):
    def _window_vals(self, **overrides):
        vals = {
            "name": "Morning wave",
            "mon": True,
            "start_hour": 6.0,
            "end_hour": 14.0,
            "tz": "Europe/Paris",
        }
        vals.update(overrides)
        return vals

    def _assert_rejected(self, model, vals, message):
        before = self.env[model].with_context(active_test=False).search_count([])
        with self.assertRaisesRegex(ValidationError, message), self.env.cr.savepoint():
            self.env[model].create(vals)
        after = self.env[model].with_context(active_test=False).search_count([])
        self.assertEqual(before, after, "a rejected record must not be saved")

    def test_valid_window_round_trips_to_pure_window(self):
        window = self.env["peak.fulfillment.window"].create(
            self._window_vals(fri=True, start_hour=22.5, end_hour=2.0)
        )
        pure = window._to_window()
        self.assertEqual(pure.weekdays, frozenset({0, 4}))
        self.assertEqual((pure.start.hour, pure.start.minute), (22, 30))
        self.assertTrue(window.spans_midnight)

    def test_end_equal_to_start_is_rejected(self):
        self._assert_rejected(
            "peak.fulfillment.window", self._window_vals(end_hour=6.0), "start"
        )

    def test_empty_weekday_set_is_rejected(self):
        self._assert_rejected(
            "peak.fulfillment.window", self._window_vals(mon=False), "weekday"
        )

    def test_hour_out_of_range_is_rejected_in_the_forms_notation(self):
        self._assert_rejected(
            "peak.fulfillment.window",
            self._window_vals(end_hour=25.0),
            "runs from 00:00 to 23:59, got 25:00",
        )

    def test_new_windows_are_in_the_users_zone_else_the_companys(self):
        Window = self.env["peak.fulfillment.window"]
        self.env.user.tz = False
        self.env.company.partner_id.tz = "America/New_York"

        def default(tz):
            return Window.with_context(tz=tz).default_get(["tz"])["tz"]

        self.assertEqual(default(None), "America/New_York")
        self.assertEqual(default("Europe/Paris"), "Europe/Paris")
        self.env.company.partner_id.tz = False
        self.assertEqual(default("Mars/Olympus"), "UTC")

    def test_unknown_timezone_is_rejected(self):
        self._assert_rejected(
            "peak.fulfillment.window",
            self._window_vals(tz="Mars/Olympus"),
            "Unknown time zone 'Mars/Olympus'",
        )

    def test_editing_into_an_invalid_state_keeps_the_old_values(self):
        window = self.env["peak.fulfillment.window"].create(self._window_vals())
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            window.write({"mon": False})
        window.invalidate_recordset()
        self.assertTrue(window.mon)

    def test_peak_period_ending_before_start_is_rejected(self):
        self._assert_rejected(
            "peak.period",
            {
                "name": "Black Friday week",
                "date_start": datetime(2026, 11, 30),
                "date_end": datetime(2026, 11, 23),
            },
            "ends \\(2026-11-23 00:00 UTC\\) before it starts",
        )

    def test_peak_period_errors_speak_the_forms_time(self):
        Period = self.env["peak.period"].with_context(tz="Europe/Paris")
        with self.assertRaisesRegex(
            ValidationError,
            "ends \\(2026-11-23 01:00 CET\\) before it starts "
            "\\(2026-11-30 01:00 CET\\)",
        ):
            Period.create(
                {
                    "name": "Black Friday week",
                    "date_start": datetime(2026, 11, 30),
                    "date_end": datetime(2026, 11, 23),
                }
            )
        with self.assertRaisesRegex(
            ValidationError, "starts and ends at the same time \\(2026-11-30 01:00 CET"
        ):
            Period.create(
                {
                    "name": "Nothing",
                    "date_start": datetime(2026, 11, 30),
                    "date_end": datetime(2026, 11, 30),
                }
            )

    def test_status_reports_window_in_its_timezone(self):
        self.env["peak.fulfillment.window"].search([]).action_archive()
        self.env["peak.fulfillment.window"].create(
            self._window_vals(mon=True, start_hour=6.0, end_hour=14.0)
        )
        # Monday 2026-11-30 07:00 UTC is 08:00 in Paris (CET, UTC+1).
        at = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
        status = self.env["peak.mode"].get_status(at)
        self.assertTrue(status["in_window"])
        self.assertEqual(
            status["window_end"], datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
        )
        self.assertFalse(status["fulfillment_protected"], "Peak mode is off")
