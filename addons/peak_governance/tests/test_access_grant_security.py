# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .grant_common import GrantCase


@tagged("post_install", "-at_install")
class TestAccessGrantSecurity(GrantCase):
    """What a requester, a holder or an approver cannot get a grant to do."""

    def test_the_state_machine_cannot_be_called_through_the_context(self):
        """RPC callers choose context keys (JSON values): the key alone must
        not pass for the state machine."""
        grant = self.grant()
        forged = grant.with_user(self.requester).with_context(
            peak_approval_transition=True
        )
        for vals in (
            {"state": "approved"},
            {"added_group_ids": [fields.Command.set(self.export.ids)]},
            {"approved_at": fields.Datetime.now()},
        ):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                forged.write(vals)
        crm = self.env["ir.module.module"].search([("name", "=", "crm")])
        exception = self.request(crm).with_user(self.requester)
        with self.assertRaises(AccessError):
            exception.with_context(peak_approval_transition=True).write(
                {"state": "approved"}
            )
        self.assertEqual((grant.state, exception.state), ("requested", "requested"))

    def test_an_approver_grants_only_groups_they_hold(self):
        system = self.env.ref("base.group_system")
        before = self.Grant.search_count([])
        with self.assertRaisesRegex(ValidationError, "grants only groups they hold"):
            self.grant(system)
        self.assertEqual(self.Grant.search_count([]), before)
        # Named an approver who holds it, approved by one who does not.
        admin_approver = new_test_user(
            self.env,
            "peak_admin_approver",
            groups="base.group_system,peak_governance.group_peak_change_approver",
        )
        grant = self.grant(system, approver_id=admin_approver.id)
        with self.assertRaisesRegex(ValidationError, "grants only groups they hold"):
            grant.with_user(self.approver).action_approve()
        self.assertEqual(grant.state, "requested")
        self.assertFalse(self.seasonal.has_group("base.group_system"))

    def test_user_types_are_not_granted_and_admins_not_archived(self):
        portal = self.env.ref("base.group_portal")
        with self.assertRaisesRegex(ValidationError, "is a user type"):
            self.grant(portal)
        admin = new_test_user(self.env, "peak_grant_admin", groups="base.group_system")
        with self.assertRaisesRegex(ValidationError, "administers Odoo"):
            self.grant(user=admin, end_action="archive_user")
        self.grant(user=admin)  # removing the groups at the end is fine

    def test_the_holder_reads_but_does_not_change_the_request(self):
        holder = self.peak_user
        grant = self.grant(user=holder)
        mine = grant.with_user(holder)
        self.assertEqual(mine.state, "requested")  # may read it
        with self.assertRaises(AccessError):
            mine.write({"group_ids": [fields.Command.link(self.export.id)]})
        self.assertEqual(grant.group_ids, self.contacts)

    def test_a_requester_revokes_their_own_seasonal_grant(self):
        """Odoo refuses to archive the account running the request: the
        grant archives it as the superuser."""
        lead = self.peak_user
        grant = self.approved(user=lead, requester=lead, end_action="archive_user")
        self.assertEqual(grant.state, "active")
        grant.with_user(lead).action_revoke()
        self.assertEqual(grant.state, "revoked")
        self.assertFalse(lead.active)
