# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import timedelta

from odoo import fields
from odoo.tests import new_test_user

from .common import GovernanceCase


class GrantCase(GovernanceCase):
    """GovernanceCase plus a seasonal user and two groups to give them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Grant = cls.env["peak.access.grant"]
        cls.GrantLog = cls.env["peak.access.grant.log"]
        cls.seasonal = new_test_user(
            cls.env, "seasonal_picker", groups="base.group_user", name="Sam Seasonal"
        )
        cls.contacts = cls.env.ref("base.group_partner_manager")
        cls.export = cls.env.ref("base.group_allow_export")
        assert not (cls.seasonal.groups_id & (cls.contacts | cls.export))
        # An approver grants only groups they hold.
        (cls.approver | cls.approver2).write(
            {
                "groups_id": [
                    fields.Command.link(g.id) for g in cls.contacts | cls.export
                ]
            }
        )

    def grant(self, groups=None, start=-1, end=5, user=None, requester=None, **vals):
        """A request; ``start``/``end`` in hours from now."""
        now = fields.Datetime.now()
        values = {
            "user_id": (user or self.seasonal).id,
            "group_ids": [fields.Command.set((groups or self.contacts).ids)],
            "date_start": now + timedelta(hours=start),
            "date_end": now + timedelta(hours=end),
            "approver_id": self.approver.id,
            "reason": "Seasonal pickers for the Black Friday week",
        }
        values.update(vals)
        return self.Grant.with_user(requester or self.requester).create(values)

    def approved(self, *args, **kwargs):
        grant = self.grant(*args, **kwargs)
        grant.with_user(self.approver).action_approve()
        return grant

    def grant_logs(self, grant):
        return self.GrantLog.sudo().search([("grant_id", "=", grant.id)], order="id")

    def later(self, hours):
        return fields.Datetime.now() + timedelta(hours=hours)
