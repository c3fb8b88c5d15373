# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from freezegun import freeze_time

from odoo.tests import tagged

from .grant_common import GrantCase


@tagged("post_install", "-at_install")
class TestAccessGrantDigest(GrantCase):
    def test_weekly_digest_goes_to_each_approver(self):
        self.Grant.sudo().search([])._transition(
            {"state": "revoked", "ended_at": self.later(-24 * 30)}
        )
        self.assertFalse(self.Grant._cron_send_digest(), "nothing to send")
        active = self.approved(end=24 * 30)
        ending = self.approved(self.export, end=24 * 3)
        pending = self.grant(user=self.peak_user, start=24, end=48)
        ended = self.approved(user=self.peak_user, end=2)
        with freeze_time(self.later(3)):
            self.Grant._cron_run()
            mails = self.Grant._cron_send_digest()
        self.assertEqual(ended.state, "ended")
        approvers = self.env.ref(
            "peak_governance.group_peak_change_approver"
        ).users.filtered("email")
        self.assertLessEqual(self.approver | self.approver2, approvers)
        self.assertEqual(len(mails), len(approvers), "one mail each")
        self.assertEqual(mails.recipient_ids, approvers.partner_id)
        self.assertEqual(mails.mapped("state"), ["outgoing"] * len(mails))
        body = str(mails[0].body_html)
        sections = [
            "Pending requests",
            "Active grants",
            "Ending within 7 days",
            "Ended or revoked in the past 7 days",
        ]
        positions = [body.index(title) for title in sections]
        self.assertEqual(positions, sorted(positions))
        self.assertEqual(body.count(self.seasonal.name), 3, "active x2, ending")
        self.assertEqual(body.count(self.peak_user.name), 2, "pending, ended")
        self.assertIn("Contact Creation", body)
        self.assertTrue(active | ending | pending)
