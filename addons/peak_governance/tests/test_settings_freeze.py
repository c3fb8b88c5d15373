# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from ..lib import sql_guard
from .common import GovernanceCase


@tagged("post_install", "-at_install")
class TestSettingsFreeze(GovernanceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Setting = cls.env["peak.frozen.setting"]
        cls.cron_setting = cls.env.ref("peak_governance.frozen_setting_cron_schedule")
        cls.mail_setting = cls.env.ref("peak_governance.frozen_setting_mail_server")
        cls.channel_setting = cls.env.ref(
            "peak_governance.frozen_setting_queue_channel_capacity"
        )
        # Made before the season: no period yet.
        cls.cron = cls.env["ir.cron"].create(
            {
                "name": "Peak test: nightly export",
                "model_id": cls.env.ref("base.model_res_partner").id,
                "state": "code",
                "code": "model.search([], limit=1).write({'comment': 'exported'})",
                "interval_number": 1,
                "interval_type": "days",
                "nextcall": fields.Datetime.now() - timedelta(hours=1),
            }
        )
        cls.smtp = cls.env["ir.mail_server"].create(
            {"name": "Peak test SMTP", "smtp_host": "smtp.example.com"}
        )
        cls.admin = cls.env.ref("base.user_admin")

    def period_without_freeze(self):
        now = fields.Datetime.now()
        return self.env["peak.period"].create(
            {
                "name": "Summer sale",
                "date_start": now - timedelta(hours=1),
                "date_end": now + timedelta(hours=24),
                "change_freeze": False,
            }
        )

    def settings_exception(self, settings, **kwargs):
        return self.approved(
            self.Module.browse(), setting_ids=[Command.set(settings.ids)], **kwargs
        )

    # --- refused during a period -----------------------------------------

    def test_cron_schedule_refused_with_one_message_value_unchanged(self):
        period = self.period_around_now()
        with self.assertRaises(UserError) as caught:
            self.cron.with_user(self.admin).write({"interval_number": 5})
        message = str(caught.exception)
        until = fields.Datetime.to_string(period.date_end)[:16]
        self.assertIn(
            f"Settings are frozen: peak period “Black Friday week” until {until} UTC",
            message,
        )
        self.assertIn("“Scheduled action schedules”", message)
        self.assertIn("interval_number", message)
        self.assertIn("Peak Operations > Change freeze > Change exceptions", message)
        self.cron.invalidate_recordset()
        self.assertEqual(self.cron.interval_number, 1)
        for vals in ({"active": False}, {"interval_type": "hours"}):
            with self.subTest(vals=vals), self.assertRaises(UserError):
                self.cron.write(vals)  # superuser included

    def test_writing_a_value_back_or_another_field_is_no_change(self):
        self.period_around_now()
        self.cron.write({"interval_number": 1, "active": True, "name": "Renamed"})
        self.assertEqual(self.cron.name, "Renamed")
        # ir.cron.toggle rewrites ``active`` as it is.
        self.cron.toggle("res.partner", [])
        self.assertTrue(self.cron.active)

    def test_the_cron_runner_still_reschedules_jobs(self):
        self.period_around_now()
        # "Run manually" writes lastcall through the ORM.
        self.cron.method_direct_trigger()
        self.assertTrue(self.cron.lastcall)
        # The runner itself (plain SQL): nextcall moves past now.
        self.env.flush_all()
        job = {
            **self.cron.read(load=None)[0],
            "done": 0,
            "remaining": 0,
            "timed_out_counter": 0,
        }
        self.registry.enter_test_mode(self.cr)
        try:
            self.registry["ir.cron"]._process_job(
                self.registry.db_name, self.registry.cursor(), job
            )
        finally:
            self.registry.leave_test_mode()
        self.env.invalidate_all()
        self.assertGreater(self.cron.nextcall, fields.Datetime.now())
        self.assertEqual(self.cron.failure_count, 0)
        self.assertEqual(self.cron.interval_number, 1)

    def test_mail_server_create_write_unlink_refused(self):
        self.period_around_now()
        Server = self.env["ir.mail_server"]
        before = Server.search_count([])
        calls = [
            (lambda: Server.create({"name": "x", "smtp_host": "x"}), "Cannot create"),
            (lambda: self.smtp.write({"smtp_port": 2525}), "Cannot change"),
            (self.smtp.unlink, "Cannot delete"),
        ]
        for call, expected in calls:
            with self.subTest(expected=expected):
                with self.assertRaisesRegex(UserError, expected) as caught:
                    call()
                self.assertIn("“Outgoing mail servers”", str(caught.exception))
        self.assertEqual(Server.search_count([]), before)
        self.assertEqual(self.smtp.smtp_port, 25)
        # Not where mail goes: a label (or an OAuth token refreshed hourly).
        self.smtp.write({"name": "Relay (peak)"})

    def test_queue_channel_capacity_refused_but_pause_and_new_channels_work(self):
        Channel = self.env["queue.job.channel"]
        root = self.env.ref("queue_job.channel_root")
        channel = Channel.create({"name": "peak_test", "parent_id": root.id})
        self.period_around_now()
        with self.assertRaisesRegex(UserError, "“Job queue channel capacities”"):
            channel.write({"capacity": 4})
        self.assertEqual(channel.capacity, 0)
        # New channels and the human pause are not capacities...
        Channel.create({"name": "peak_test_2", "parent_id": root.id})
        channel.action_pause()
        self.assertTrue(channel.paused)
        # ...but a new channel with a capacity of its own is.
        with self.assertRaisesRegex(UserError, "Cannot create"):
            Channel.create(
                {"name": "peak_test_3", "parent_id": root.id, "capacity": 50}
            )
        self.assertFalse(Channel.search([("name", "=", "peak_test_3")]))

    def test_governor_leases_still_work_during_a_freeze(self):
        if "peak.queue.lease" not in self.env:
            self.skipTest("peak_queue is not in this test database")
        self.period_around_now()
        # Through the DB contract's SQL functions: no channel is written.
        Lease = self.env["peak.queue.lease"]
        lease = Lease.acquire(
            "root.bulk", "waves", {"waiters": 3}, ttl_seconds=60, holder="gov-a"
        )
        self.assertEqual(lease.state, "active")
        self.assertEqual(Lease.release("root.bulk", "gov-a", "calm"), 1)
        self.assertEqual(lease.state, "released")

    # --- allowed -----------------------------------------------------------

    def test_allowed_with_an_approved_exception_naming_the_setting(self):
        self.period_around_now()
        exc = self.settings_exception(self.cron_setting)
        self.assertFalse(exc.module_ids)
        self.cron.with_user(self.admin).write({"interval_number": 6})
        self.assertEqual(self.cron.interval_number, 6)
        used = self.logs(exc).filtered(lambda entry: entry.event == "used")
        self.assertEqual(used.modules, "Scheduled action schedules")
        self.assertEqual(used.user_id, self.admin)
        # It names the cron schedules only: mail servers stay frozen.
        with self.assertRaisesRegex(UserError, "“Outgoing mail servers”"):
            self.smtp.write({"smtp_port": 2525})

    def test_refused_when_the_exception_is_only_requested_or_revoked(self):
        self.period_around_now()
        exc = self.request(
            self.Module.browse(), setting_ids=[Command.set(self.cron_setting.ids)]
        )
        with self.assertRaises(UserError):
            self.cron.write({"interval_number": 6})
        exc.with_user(self.approver).action_approve()
        exc.with_user(self.approver).action_revoke()
        with self.assertRaises(UserError):
            self.cron.write({"interval_number": 6})

    def test_an_exception_names_modules_or_settings(self):
        self.period_around_now()
        with self.assertRaisesRegex(
            ValidationError, "Name the modules or the frozen settings"
        ):
            self.request(self.Module.browse())

    def test_allowed_outside_a_period_and_in_a_period_without_freeze(self):
        self.cron.write({"interval_number": 2})
        self.period_without_freeze()
        self.cron.write({"interval_number": 3})
        self.smtp.write({"smtp_port": 2525})
        self.assertEqual((self.cron.interval_number, self.smtp.smtp_port), (3, 2525))
        self.assertFalse(self.env["peak.change.freeze"].get_freeze().active)

    def test_module_install_not_frozen_in_a_period_without_freeze(self):
        self.period_without_freeze()
        self.crm.button_install()
        self.assertEqual(self.crm.state, "to install")

    def test_the_switch_cannot_lift_a_running_freeze(self):
        period = self.period_around_now()
        end = period.date_end
        lifting = [
            lambda: setattr(period, "change_freeze", False),
            period.action_archive,
            lambda: period.write({"date_end": end - timedelta(hours=1)}),
            lambda: period.write({"date_start": end - timedelta(minutes=1)}),
            period.unlink,
        ]
        for lift in lifting:
            with self.assertRaisesRegex(UserError, "is under way and freezes changes"):
                lift()
        self.assertTrue(period.exists() and period.active and period.change_freeze)
        self.assertEqual(period.date_end, end)
        period.date_end = end + timedelta(days=1)  # a longer season: fine
        later = self.env["peak.period"].create(
            {
                "name": "Christmas",
                "date_start": period.date_end + timedelta(days=10),
                "date_end": period.date_end + timedelta(days=13),
            }
        )
        later.change_freeze = False  # before it starts: fine

    def test_no_context_flag_lifts_the_freeze(self):
        """Installs are recognised by the registry loading, never by a context
        key an RPC caller could send."""
        self.period_around_now()
        for flag in ("install_mode", "_force_unlink", "peak_freeze_checked"):
            with self.subTest(flag=flag), self.assertRaises(UserError):
                self.cron.with_context(**{flag: True}).write({"interval_number": 4})
        with self.assertRaises(UserError):
            self.cron_setting.with_context(install_mode=True).action_archive()
        self.assertEqual(self.cron.interval_number, 1)
        self.assertTrue(self.cron_setting.active)

    # --- the list itself -----------------------------------------------------

    def test_shrinking_the_list_is_refused_during_a_freeze(self):
        self.period_around_now()
        manager = self.admin
        calls = [
            lambda: self.cron_setting.with_user(manager).action_archive(),
            lambda: self.cron_setting.with_user(manager).unlink(),
            lambda: self.cron_setting.write({"field_names": "interval_number"}),
            lambda: self.mail_setting.write({"field_names": "smtp_host"}),
            lambda: self.mail_setting.write({"model_name": "res.partner"}),
        ]
        for index, call in enumerate(calls):
            with self.subTest(index=index):
                with self.assertRaisesRegex(UserError, "Settings are frozen"):
                    call()
        self.assertTrue(self.cron_setting.exists().active)
        # Growing it is always allowed.
        self.cron_setting.write(
            {"field_names": "interval_number,interval_type,nextcall,active,priority"}
        )
        self.Setting.create(
            {
                "name": "Partner names",
                "model_name": "res.partner",
                "field_names": "name",
            }
        )

    def test_shrinking_allowed_outside_a_freeze_or_with_an_exception(self):
        self.mail_setting.field_names = "smtp_host"
        self.period_around_now()
        self.settings_exception(self.cron_setting)
        self.cron_setting.action_archive()
        self.assertFalse(self.cron_setting.active)
        self.cron.write({"interval_number": 9})  # no longer frozen

    def test_unknown_fields_and_uninstalled_models(self):
        with self.assertRaisesRegex(ValidationError, "ir.cron has no field nope"):
            self.Setting.create(
                {"name": "Bad", "model_name": "ir.cron", "field_names": "nope"}
            )
        ghost = self.Setting.create(
            {"name": "Ghost", "model_name": "x_not.installed", "field_names": "a"}
        )
        self.assertFalse(ghost.model_installed)
        self.assertNotIn("x_not.installed", self.Setting._frozen_map())
        # Freezing what the freeze, the grants or Odoo itself write is refused.
        for model in (
            "peak.change.exception",
            "res.users",
            "ir.config_parameter",
            "res.config.settings",
        ):
            with self.subTest(model=model), self.assertRaises(ValidationError):
                self.Setting.create({"name": "Bad", "model_name": model})

    # --- the command-line guard reads the switch ---------------------------

    def test_sql_guard_reads_the_switch(self):
        self.period_without_freeze()
        self.env.flush_all()
        cr = self.env.cr
        self.assertEqual(sql_guard.freezing_periods(cr), [])
        self.period_around_now()
        self.env.flush_all()
        self.assertEqual(
            [p.name for p in sql_guard.freezing_periods(cr)], ["Black Friday week"]
        )
        # A database where the column does not exist (yet): every period freezes.
        cr.execute("SAVEPOINT no_switch")
        try:
            cr.execute("ALTER TABLE peak_period DROP COLUMN change_freeze")
            self.assertEqual(len(sql_guard.freezing_periods(cr)), 2)
        finally:
            cr.execute("ROLLBACK TO SAVEPOINT no_switch")
