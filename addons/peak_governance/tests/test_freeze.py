# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import GovernanceCase


@tagged("post_install", "-at_install")
class TestChangeFreeze(GovernanceCase):
    def install(self, modules, user=None):
        return modules.with_user(user or self.requester).button_install()

    def test_install_refused_during_a_period_names_it_and_how_to_ask(self):
        period = self.period_around_now()
        with self.assertRaises(UserError) as caught:
            self.install(self.crm)
        message = str(caught.exception)
        until = fields.Datetime.to_string(period.date_end)[:16]
        self.assertIn(f"peak period “Black Friday week” until {until} UTC", message)
        self.assertIn("Cannot install crm", message)
        self.assertIn("Peak Operations > Change freeze > Change exceptions", message)
        self.assertIn("“Peak change approver”", message)
        self.assertEqual(self.crm.state, "uninstalled")

    def test_every_entry_point_is_refused(self):
        self.period_around_now()
        base_setup = self.Module.search([("name", "=", "base_setup")])
        calls = [
            (self.crm.button_immediate_install, "Cannot install crm"),
            (base_setup.button_upgrade, "Cannot upgrade base_setup"),
            (base_setup.button_immediate_upgrade, "Cannot upgrade base_setup"),
            (base_setup.button_uninstall, "Cannot uninstall base_setup"),
            (base_setup.button_immediate_uninstall, "Cannot uninstall base_setup"),
        ]
        for call, expected in calls:
            with self.subTest(call=call.__name__):
                with self.assertRaisesRegex(UserError, expected):
                    call()
        self.assertEqual(base_setup.state, "installed")

    def test_install_allowed_with_an_approved_unexpired_exception(self):
        self.period_around_now()
        exc = self.approved(self.crm)
        action = self.install(self.crm)
        self.assertEqual(action["res_model"], "base.module.upgrade")
        self.assertEqual(self.crm.state, "to install")
        used = self.logs(exc).filtered(lambda entry: entry.event == "used")
        self.assertEqual(used.user_id, self.requester)
        self.assertEqual(used.modules, "crm")

    def test_refused_once_expired_even_before_the_cron(self):
        self.period_around_now()
        exc = self.approved(self.crm, hours=2)
        with freeze_time(fields.Datetime.now() + timedelta(hours=3)):
            self.assertEqual(exc.state, "approved", "the cron has not run")
            with self.assertRaisesRegex(UserError, "Cannot install crm"):
                self.install(self.crm)
        self.assertEqual(self.crm.state, "uninstalled")

    def test_refused_while_only_requested(self):
        self.period_around_now()
        self.request(self.crm)
        with self.assertRaisesRegex(UserError, "Cannot install crm"):
            self.install(self.crm)

    def test_refused_after_revocation(self):
        self.period_around_now()
        exc = self.approved(self.crm)
        exc.with_user(self.approver).action_revoke()
        with self.assertRaisesRegex(UserError, "Cannot install crm"):
            self.install(self.crm)

    def test_refused_when_the_scope_misses_one_module(self):
        self.period_around_now()
        self.approved(self.crm)
        with self.assertRaises(UserError) as caught:
            self.install(self.crm | self.project)
        self.assertIn("Cannot install project:", str(caught.exception))
        self.assertNotIn("crm", str(caught.exception).split("covers")[0])
        self.assertEqual((self.crm | self.project).mapped("state"), ["uninstalled"] * 2)

    def test_outside_a_period_everything_is_allowed(self):
        later = fields.Datetime.now() + timedelta(days=10)
        self.env["peak.period"].create(
            {
                "name": "Christmas",
                "date_start": later,
                "date_end": later + timedelta(days=3),
            }
        )
        self.install(self.crm)
        self.assertEqual(self.crm.state, "to install")

    def test_applying_follows_what_the_covered_install_marked(self):
        self.period_around_now()
        self.approved(self.crm)
        self.install(self.crm)
        marked = self.Module.search([("state", "=", "to install")])
        self.assertGreater(len(marked), 1, "crm pulls in its dependencies")
        self.Module._peak_check_pending("apply changes to")
        # A module marked for another reason is not carried along.
        self.project.state = "to install"
        with self.assertRaises(UserError) as caught:
            self.Module._peak_check_pending("apply changes to")
        self.assertIn("Cannot apply changes to project:", str(caught.exception))

    def test_pending_changes_are_checked_when_applied(self):
        # Marked before the season began, applied during it.
        self.crm.state = "to install"
        self.period_around_now()
        with self.assertRaisesRegex(UserError, "Cannot apply changes to crm"):
            self.env["base.module.upgrade"].create({}).upgrade_module()

    def test_peak_mode_freezes_only_when_the_setting_says_so(self):
        manager = self.env.ref("base.user_admin")
        self.env["peak.mode"].with_user(manager).set_peak_mode(True, "wave 1")
        self.install(self.crm)  # periods only: Peak mode does not freeze
        self.crm.state = "uninstalled"
        settings = self.env["res.config.settings"].create(
            {"peak_freeze_scope": "peak_mode"}
        )
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("peak_governance.freeze_scope"),
            "peak_mode",
        )
        with self.assertRaisesRegex(UserError, "frozen: Peak mode is on"):
            self.install(self.crm)
        # No period: an exception lasts 24 hours at most, and lets it through.
        self.approved(self.crm, hours=20)
        self.install(self.crm)
        self.assertEqual(self.crm.state, "to install")
