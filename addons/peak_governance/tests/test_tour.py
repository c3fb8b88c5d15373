# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

APPROVER = "peak_governance.group_peak_change_approver"
GRANTS_URL = "/odoo/action-peak_governance.action_peak_access_grant"


@tagged("post_install", "-at_install")
class TestAccessGrantTour(HttpCase):
    def test_a_lead_asks_and_an_approver_grants_seasonal_access(self):
        lead = new_test_user(
            self.env,
            "peak_tour_requester",
            groups="base.group_user,peak_base.group_peak_user",
            name="Lee Lead",
        )
        approver = new_test_user(
            self.env,
            "peak_tour_approver",
            groups=f"base.group_user,base.group_partner_manager,{APPROVER}",
            name="Alex Approver",
        )
        other_approver = new_test_user(
            self.env,
            "peak_tour_approver2",
            groups=f"base.group_user,base.group_partner_manager,{APPROVER}",
        )
        seasonal = new_test_user(
            self.env,
            "peak_tour_seasonal",
            groups="base.group_user",
            name="Sam Seasonal",
        )
        partner = new_test_user(
            self.env, "peak_tour_partner", groups="base.group_user", name="Pat Partner"
        )
        contacts = self.env.ref("base.group_partner_manager")
        Grant = self.env["peak.access.grant"]
        # A support engineer's access ending in 2 hours, for the 24 h filter.
        now = fields.Datetime.now()
        support = Grant.with_user(lead).create(
            {
                "user_id": partner.id,
                "group_ids": [fields.Command.set(contacts.ids)],
                "date_start": now - timedelta(hours=1),
                "date_end": now + timedelta(hours=2),
                "approver_id": other_approver.id,
                "reason": "Carrier integration support case",
            }
        )
        support.with_user(other_approver).action_approve()
        self.assertEqual(support.state, "active")

        self.start_tour(
            GRANTS_URL, "peak_governance_access_grant_request_tour", login=lead.login
        )
        grant = Grant.search([("user_id", "=", seasonal.id)])
        self.assertEqual(len(grant), 1)
        self.assertEqual(
            (grant.state, grant.requester_id, grant.approver_id, grant.end_action),
            ("requested", lead, approver, "archive_user"),
        )
        self.assertEqual(grant.group_ids, contacts)
        self.assertEqual(grant.date_end.year, 2099)
        self.assertFalse(seasonal.has_group("base.group_partner_manager"))

        self.start_tour(
            GRANTS_URL, "peak_governance_access_grant_tour", login=approver.login
        )
        grant.invalidate_recordset()
        seasonal.invalidate_recordset()
        self.assertEqual(grant.state, "active")
        self.assertEqual(grant.approver_id, approver)
        self.assertIn(contacts, seasonal.groups_id)
        rows = grant.log_ids.sorted("id")
        self.assertEqual(rows.mapped("event"), ["requested", "approved", "activated"])
        self.assertEqual(rows[:2].mapped("user_id"), lead | approver)
