# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .grant_common import GrantCase


@tagged("post_install", "-at_install")
class TestAccessGrant(GrantCase):
    def test_groups_added_then_removed_at_end_records_kept(self):
        grant = self.approved(self.contacts | self.export, end=5)
        self.assertEqual(grant.state, "active")
        self.assertEqual(grant.added_group_ids, self.contacts | self.export)
        self.assertTrue(self.seasonal.has_group("base.group_partner_manager"))
        # Work done under the grant: a contact the seasonal user created.
        partner = (
            self.env["res.partner"]
            .with_user(self.seasonal)
            .create({"name": "Carrier depot"})
        )
        with freeze_time(self.later(5)):
            self.assertEqual(self.Grant._cron_run(), (1, 0))
            self.assertEqual(self.Grant._cron_run(), (0, 0), "idempotent")
        self.assertEqual(grant.state, "ended")
        self.seasonal.invalidate_recordset()
        self.assertFalse(self.seasonal.groups_id & (self.contacts | self.export))
        self.assertTrue(partner.exists())
        self.assertEqual(partner.create_uid, self.seasonal)
        self.assertTrue(self.seasonal.exists() and self.seasonal.active)
        rows = [(r.event, r.user_id) for r in self.grant_logs(grant)]
        self.assertEqual(
            rows,
            [
                ("requested", self.requester),
                ("approved", self.approver),
                ("activated", self.env["res.users"]),
                ("ended", self.env["res.users"]),
            ],
        )
        last = self.grant_logs(grant)[-1]
        self.assertEqual(last.grant_user_id, self.seasonal)
        self.assertIn("Contact Creation", last.groups)

    def test_future_grant_started_and_ended_by_a_late_cron(self):
        grant = self.approved(start=1, end=5)
        self.assertEqual(grant.state, "approved")
        self.assertFalse(self.seasonal.has_group("base.group_partner_manager"))
        with freeze_time(self.later(2)):
            self.assertEqual(self.Grant._cron_run(), (0, 1))
        self.assertEqual(grant.state, "active")
        self.assertTrue(self.seasonal.has_group("base.group_partner_manager"))
        # A grant whose whole period passed before the cron ran never starts.
        short = self.approved(self.export, start=1, end=2)
        with freeze_time(self.later(30)):
            self.assertEqual(self.Grant._cron_run(), (2, 0))
        self.assertEqual((grant | short).mapped("state"), ["ended", "ended"])
        self.assertFalse(short.added_group_ids)
        self.seasonal.invalidate_recordset()
        self.assertFalse(self.seasonal.groups_id & (self.contacts | self.export))
        self.assertEqual(
            self.grant_logs(short).mapped("event"), ["requested", "approved", "ended"]
        )

    def test_seasonal_account_is_archived_not_deleted(self):
        grant = self.approved(end_action="archive_user")
        with freeze_time(self.later(6)):
            self.Grant._cron_run()
        self.assertEqual(grant.state, "ended")
        self.assertTrue(self.seasonal.exists())
        self.assertFalse(self.seasonal.active)
        self.assertFalse(self.seasonal.groups_id & self.contacts)

    def test_a_group_the_user_already_had_stays(self):
        self.seasonal.write({"groups_id": [fields.Command.link(self.export.id)]})
        grant = self.approved(self.contacts | self.export)
        self.assertEqual(grant.added_group_ids, self.contacts)
        grant.with_user(self.approver).action_revoke("picking done")
        self.seasonal.invalidate_recordset()
        self.assertIn(self.export, self.seasonal.groups_id)
        self.assertNotIn(self.contacts, self.seasonal.groups_id)

    def test_overlapping_grants_keep_the_group_until_the_last_ends(self):
        first = self.approved(end=2)
        second = self.approved(self.contacts | self.export, end=6)
        self.assertEqual(first.added_group_ids, self.contacts)
        self.assertEqual(second.added_group_ids, self.export)
        with freeze_time(self.later(3)):
            self.assertEqual(self.Grant._cron_run(), (1, 0))
        self.assertTrue(self.seasonal.has_group("base.group_partner_manager"))
        self.assertEqual(second.added_group_ids, self.contacts | self.export)
        with freeze_time(self.later(7)):
            self.assertEqual(self.Grant._cron_run(), (1, 0))
        self.seasonal.invalidate_recordset()
        self.assertFalse(self.seasonal.groups_id & (self.contacts | self.export))

    def test_revoking_an_active_grant_removes_its_groups_at_once(self):
        grant = self.approved()
        with self.assertRaisesRegex(AccessError, "Only its requester"):
            grant.with_user(self.peak_user).action_revoke()
        grant.with_user(self.requester).action_revoke("left early")
        self.assertEqual(grant.state, "revoked")
        self.assertFalse(self.seasonal.has_group("base.group_partner_manager"))
        row = self.grant_logs(grant)[-1]
        self.assertEqual(
            (row.event, row.user_id, row.note),
            ("revoked", self.requester, "left early"),
        )
        with self.assertRaisesRegex(UserError, "already revoked"):
            grant.action_revoke()
        with freeze_time(self.later(10)):
            self.assertEqual(self.Grant._cron_run(), (0, 0))
        # A request can be revoked too, before anything happened.
        pending = self.grant()
        pending.with_user(self.requester).action_revoke()
        self.assertEqual(pending.state, "revoked")
        with self.assertRaisesRegex(UserError, "only a request can be approved"):
            pending.with_user(self.approver).action_approve()

    def test_bad_requests_are_refused_with_one_message_each(self):
        cases = [
            ("Name an approver", {"approver_id": False}),
            ("cannot approve their own access grant", {"requester": self.approver}),
            (
                "is not in the “Peak change approver” group and cannot approve "
                "access grants",
                {"approver_id": self.peak_user.id},
            ),
            (
                "cannot approve access for themselves",
                {"user": self.approver2, "approver_id": self.approver2.id},
            ),
            ("not after its start", {"start": 5, "end": 4}),
            ("not after its start", {"start": 5, "end": 5}),
            ("not in the future", {"start": -3, "end": -1}),
            ("Name the groups", {"group_ids": []}),
            ("Say why", {"reason": " "}),
        ]
        for message, vals in cases:
            with self.subTest(message=message):
                before = (
                    self.Grant.sudo().search_count([]),
                    self.GrantLog.sudo().search_count([]),
                )
                with self.assertRaisesRegex(ValidationError, message):
                    self.grant(**vals)
                after = (
                    self.Grant.sudo().search_count([]),
                    self.GrantLog.sudo().search_count([]),
                )
                self.assertEqual(after, before, "nothing written")

    def test_self_approval_and_outsiders_are_refused_at_approval(self):
        grant = self.grant(requester=self.approver2)
        with self.assertRaisesRegex(ValidationError, "cannot approve their own"):
            grant.with_user(self.approver2).action_approve()
        with self.assertRaisesRegex(ValidationError, "not in the “Peak change"):
            grant.with_user(self.requester).action_approve()
        with freeze_time(self.later(6)):
            with self.assertRaisesRegex(UserError, "not in the future"):
                grant.with_user(self.approver).action_approve()
        self.assertEqual(grant.state, "requested")
        self.assertFalse(self.seasonal.has_group("base.group_partner_manager"))

    def test_grant_is_changed_only_by_its_actions(self):
        grant = self.grant()
        with self.assertRaisesRegex(AccessError, "Approve and Revoke"):
            grant.with_user(self.requester).write({"state": "active"})
        with self.assertRaisesRegex(AccessError, "Approve and Revoke"):
            grant.with_user(self.requester).write(
                {"added_group_ids": [fields.Command.link(self.export.id)]}
            )
        # While requested the requester may fix it, under the same rules.
        grant.with_user(self.requester).write({"date_end": self.later(8)})
        with self.assertRaisesRegex(ValidationError, "not after its start"):
            grant.with_user(self.requester).write({"date_end": self.later(-2)})
        grant.with_user(self.approver).action_approve()
        with self.assertRaisesRegex(UserError, "can no longer be changed"):
            grant.with_user(self.requester).write({"date_end": self.later(48)})
        with self.assertRaisesRegex(UserError, "revoke it instead"):
            grant.unlink()
        with self.assertRaises(AccessError):
            self.grant_logs(grant)[0].write({"note": "rewritten"})
        with self.assertRaises(AccessError):
            self.grant_logs(grant).unlink()
        with self.assertRaises(AccessError):
            self.GrantLog.with_user(self.approver).create(
                {"grant_id": grant.id, "event": "ended"}
            )

    def test_who_sees_which_grants(self):
        grant = self.grant()
        self.assertFalse(self.Grant.with_user(self.peak_user).search([]))
        self.assertEqual(self.Grant.with_user(self.requester).search([]), grant)
        self.assertIn(grant, self.Grant.with_user(self.approver2).search([]))
        self.assertTrue(self.GrantLog.with_user(self.approver2).search([]))
        with self.assertRaises(AccessError):
            self.Grant.with_user(self.seasonal).search([])

    def test_api_key_clamped_to_grant_end_and_removed_with_it(self):
        Keys = self.env["res.users.apikeys"]
        # No grant: Odoo's own rule (a plain user gets 90 days at most).
        with self.assertRaisesRegex(ValidationError, "cannot exceed"):
            Keys.with_user(self.seasonal)._generate(None, "k0", self.later(24 * 200))
        grant = self.approved(end=5)
        key = Keys.with_user(self.seasonal)._generate(
            None, "carrier sync", self.later(24 * 200)
        )
        uid = Keys._check_credentials(scope="rpc", key=key)
        self.assertEqual(uid, self.seasonal.id)
        row = grant.apikey_ids
        self.assertEqual(len(row), 1)
        self.assertEqual(row.expiration_date, grant.date_end)
        # An administrator's persistent key is clamped too.
        admin_grant = self.approved(user=self.peak_user, end=3)
        Keys.with_user(self.peak_user).sudo()._generate(None, "forever", None)
        self.assertEqual(admin_grant.apikey_ids.expiration_date, admin_grant.date_end)
        with freeze_time(self.later(6)):
            self.Grant._cron_run()
        self.assertIsNone(Keys._check_credentials(scope="rpc", key=key))
        self.assertFalse(row.exists())
        # Shorter than the grant: left as asked.
        self.approved(self.export, user=self.seasonal, start=-1, end=48)
        short = self.later(12)
        Keys.with_user(self.seasonal)._generate(None, "short", short)
        self.env.cr.execute(
            "SELECT expiration_date FROM res_users_apikeys WHERE name = 'short'"
        )
        self.assertEqual(self.env.cr.fetchone()[0], short)
