# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, new_test_user

APPROVER = "peak_governance.group_peak_change_approver"


class GovernanceCase(TransactionCase):
    """A clean calendar, a requester (system administrator, the one who
    installs modules), two approvers and a plain Peak user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["peak.period"].search([]).action_archive()
        cls.env["ir.config_parameter"].sudo().set_param(
            "peak_governance.freeze_scope", "periods"
        )
        cls.env["ir.config_parameter"].sudo().set_param("peak_base.mode", "auto")
        cls.Exception = cls.env["peak.change.exception"]
        cls.Log = cls.env["peak.change.exception.log"]
        cls.Module = cls.env["ir.module.module"]
        cls.requester = new_test_user(
            cls.env,
            "peak_requester",
            groups="base.group_user,base.group_system,peak_base.group_peak_user",
        )
        cls.approver = new_test_user(
            cls.env, "peak_approver", groups=f"base.group_user,{APPROVER}"
        )
        cls.approver2 = new_test_user(
            cls.env, "peak_approver2", groups=f"base.group_user,{APPROVER}"
        )
        cls.peak_user = new_test_user(
            cls.env, "peak_plain", groups="base.group_user,peak_base.group_peak_user"
        )
        # Two apps the test database does not have (a module of the suite
        # would not do: installing it is a no-op).
        cls.crm, cls.project = (
            cls.Module.search([("name", "=", name)]) for name in ("crm", "project")
        )
        assert cls.crm.state == cls.project.state == "uninstalled"

    def period_around_now(self, hours=24, name="Black Friday week"):
        now = fields.Datetime.now()
        return self.env["peak.period"].create(
            {
                "name": name,
                "date_start": now - timedelta(hours=1),
                "date_end": now + timedelta(hours=hours),
            }
        )

    def request(self, modules, hours=2, user=None, approver=None, **vals):
        values = {
            "approver_id": (approver or self.approver).id,
            "reason": "Carrier API changed its label format",
            "module_ids": [fields.Command.set(modules.ids)],
            "expires_at": fields.Datetime.now() + timedelta(hours=hours),
        }
        values.update(vals)
        return self.Exception.with_user(user or self.requester).create(values)

    def approved(self, modules, **kwargs):
        exc = self.request(modules, **kwargs)
        exc.with_user(self.approver).action_approve()
        return exc

    def logs(self, exc):
        return self.Log.sudo().search([("exception_id", "=", exc.id)], order="id")
