# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

APPROVER = "peak_governance.group_peak_change_approver"


@tagged("post_install", "-at_install")
class TestAccessGrantTour(HttpCase):
    def test_approver_grants_seasonal_access(self):
        requester = new_test_user(
            self.env,
            "peak_tour_requester",
            groups="base.group_user,peak_base.group_peak_user",
        )
        approver = new_test_user(
            self.env,
            "peak_tour_approver",
            groups=f"base.group_user,{APPROVER}",
            name="Alex Approver",
        )
        seasonal = new_test_user(
            self.env,
            "peak_tour_seasonal",
            groups="base.group_user",
            name="Sam Seasonal",
        )
        contacts = self.env.ref("base.group_partner_manager")
        now = fields.Datetime.now()
        grant = (
            self.env["peak.access.grant"]
            .with_user(requester)
            .create(
                {
                    "user_id": seasonal.id,
                    "group_ids": [fields.Command.set(contacts.ids)],
                    "date_start": now - timedelta(minutes=5),
                    "date_end": now + timedelta(days=30),
                    "approver_id": approver.id,
                    "reason": "Tour: seasonal pickers",
                }
            )
        )
        self.assertFalse(seasonal.has_group("base.group_partner_manager"))
        self.start_tour(
            "/odoo/action-peak_governance.action_peak_access_grant",
            "peak_governance_access_grant_tour",
            login=approver.login,
        )
        grant.invalidate_recordset()
        seasonal.invalidate_recordset()
        self.assertEqual(grant.state, "active")
        self.assertEqual(grant.approver_id, approver)
        self.assertIn(contacts, seasonal.groups_id)
        row = grant.log_ids.filtered(lambda r: r.event == "approved")
        self.assertEqual(row.user_id, approver)
