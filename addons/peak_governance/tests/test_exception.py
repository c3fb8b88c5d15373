# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import GovernanceCase


@tagged("post_install", "-at_install")
class TestChangeException(GovernanceCase):
    def counts(self):
        return (
            self.Exception.sudo().search_count([]),
            self.Log.sudo().search_count([]),
        )

    def assertRefused(self, message, **vals):
        before = self.counts()
        with self.assertRaisesRegex(ValidationError, message):
            self.request(self.crm, **vals)
        self.assertEqual(self.counts(), before, "nothing written")

    def test_bad_requests_are_refused_with_one_message_each(self):
        period = self.period_around_now(hours=24)
        cases = [
            ("Name an approver", {"approver_id": False}),
            ("cannot approve their own", {"user": self.approver}),
            (
                "is not in the “Peak change approver” group",
                {"approver": self.peak_user},
            ),
            ("not in the future", {"hours": -1}),
            (
                "after the end of peak period “Black Friday week”",
                {"expires_at": period.date_end + timedelta(minutes=1)},
            ),
            ("Name the modules", {"module_ids": []}),
            ("Say why", {"reason": "  "}),
        ]
        for message, vals in cases:
            with self.subTest(message=message):
                self.assertRefused(message, **vals)

    def test_self_approval_is_refused(self):
        self.period_around_now()
        # An approver asks; another is named; the asker cannot approve it.
        exc = self.request(self.crm, user=self.approver2)
        with self.assertRaisesRegex(ValidationError, "cannot approve their own"):
            exc.with_user(self.approver2).action_approve()
        self.assertEqual(exc.state, "requested")
        with self.assertRaisesRegex(ValidationError, "not in the “Peak change"):
            exc.with_user(self.requester).action_approve()

    def test_audit_rows_for_request_approve_revoke(self):
        self.period_around_now()
        exc = self.request(self.crm)
        exc.with_user(self.approver).action_approve()
        self.assertEqual(exc.state, "approved")
        self.assertTrue(exc.effective)
        exc.with_user(self.requester).action_revoke("done early")
        self.assertEqual(exc.state, "revoked")
        self.assertFalse(exc.effective)
        rows = [(r.event, r.user_id, r.modules, r.note) for r in self.logs(exc)]
        self.assertEqual(
            rows,
            [
                ("requested", self.requester, "crm", exc.reason),
                ("approved", self.approver, "crm", False),
                ("revoked", self.requester, "crm", "done early"),
            ],
        )
        with self.assertRaisesRegex(UserError, "already revoked"):
            exc.action_revoke()

    def test_cron_expires_once_and_late(self):
        self.period_around_now(hours=48)
        approved = self.approved(self.crm, hours=2)
        pending = self.request(self.project, hours=3)
        later = self.approved(self.project, hours=30)
        with freeze_time(fields.Datetime.now() + timedelta(hours=5)):
            self.assertEqual(self.Exception._cron_expire(), 2)
            self.assertEqual(self.Exception._cron_expire(), 0, "idempotent")
        self.assertEqual(
            (approved | pending | later).mapped("state"),
            ["expired", "expired", "approved"],
        )
        row = self.logs(approved)[-1]
        self.assertEqual((row.event, row.user_id.id), ("expired", False))
        self.assertEqual(approved.closed_at, approved.expires_at)
        with self.assertRaisesRegex(UserError, "only a request can be approved"):
            pending.with_user(self.approver).action_approve()

    def test_approval_after_expiry_is_refused(self):
        self.period_around_now()
        exc = self.request(self.crm, hours=1)
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            with self.assertRaisesRegex(UserError, "not in the future"):
                exc.with_user(self.approver).action_approve()
        self.assertEqual(exc.state, "requested")

    def test_audit_log_cannot_be_edited_or_deleted(self):
        self.period_around_now()
        exc = self.approved(self.crm)
        row = self.logs(exc)[0]
        for env_user in (self.env.user, self.approver):
            with self.assertRaises(AccessError):
                row.with_user(env_user).write({"note": "rewritten"})
            with self.assertRaises(AccessError):
                row.with_user(env_user).unlink()
        with self.assertRaises(AccessError):
            self.Log.with_user(self.approver).create(
                {"exception_id": exc.id, "event": "approved"}
            )
        self.assertEqual(row.note, exc.reason)

    def test_exception_is_changed_only_by_its_actions(self):
        self.period_around_now()
        exc = self.request(self.crm)
        with self.assertRaisesRegex(AccessError, "Approve and Revoke"):
            exc.with_user(self.requester).write({"state": "approved"})
        # While requested the requester may fix it, under the same rules.
        exc.with_user(self.requester).write({"module_ids": [(4, self.project.id)]})
        exc.with_user(self.requester).write({"module_ids": [(3, self.crm.id)]})
        with self.assertRaisesRegex(ValidationError, "Name the modules"):
            exc.with_user(self.requester).write({"module_ids": [(3, self.project.id)]})
        exc.with_user(self.requester).write({"module_ids": [(4, self.crm.id)]})
        with self.assertRaisesRegex(ValidationError, "not in the future"):
            exc.with_user(self.requester).write(
                {"expires_at": fields.Datetime.now() - timedelta(hours=1)}
            )
        exc.with_user(self.approver).action_approve()
        with self.assertRaisesRegex(UserError, "can no longer be changed"):
            exc.with_user(self.requester).write({"module_ids": [(5,)]})
        with self.assertRaisesRegex(UserError, "revoke it instead"):
            exc.unlink()
        self.assertEqual(exc.module_ids, self.crm | self.project)

    def test_who_sees_and_revokes(self):
        self.period_around_now()
        exc = self.approved(self.crm)
        self.assertFalse(self.Exception.with_user(self.peak_user).search([]))
        self.assertIn(exc, self.Exception.with_user(self.requester).search([]))
        with self.assertRaisesRegex(AccessError, "Only its requester"):
            exc.with_user(self.approver2).action_revoke()
        exc.with_user(self.env.ref("base.user_admin")).action_revoke()
        self.assertEqual(exc.state, "revoked")
