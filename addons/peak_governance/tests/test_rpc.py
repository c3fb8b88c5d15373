# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import json
from xmlrpc.client import Fault

from odoo.tests import HttpCase, tagged

from .common import GovernanceCase


@tagged("post_install", "-at_install")
class TestFreezeOverRpc(GovernanceCase, HttpCase):
    """The routes the Apps buttons and external scripts really use."""

    def call_button(self, method, modules):
        self.authenticate("admin", "admin")
        payload = {
            "id": 0,
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": "ir.module.module",
                "method": method,
                "args": [modules.ids],
                "kwargs": {},
            },
        }
        response = self.url_open(
            f"/web/dataset/call_button/ir.module.module/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        response.raise_for_status()
        return response.json()

    def test_apps_install_button_refused_then_allowed(self):
        self.period_around_now()
        answer = self.call_button("button_immediate_install", self.crm)
        error = answer["error"]["data"]
        self.assertEqual(error["name"], "odoo.exceptions.UserError")
        self.assertIn("“Black Friday week” until", error["message"])
        self.assertIn("Cannot install crm", error["message"])
        self.crm.invalidate_recordset()
        self.assertEqual(self.crm.state, "uninstalled")
        self.approved(self.crm)
        # The non-immediate button: marks it, applies nothing (rolled back).
        answer = self.call_button("button_install", self.crm)
        self.assertNotIn("error", answer)
        self.crm.invalidate_recordset()
        self.assertEqual(self.crm.state, "to install")

    def test_xmlrpc_install_is_refused(self):
        self.period_around_now()
        admin = self.env.ref("base.user_admin")
        with self.assertRaises(Fault) as caught:
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                admin.id,
                "admin",
                "ir.module.module",
                "button_immediate_install",
                [self.crm.ids],
            )
        self.assertIn("Cannot install crm", caught.exception.faultString)
        self.crm.invalidate_recordset()
        self.assertEqual(self.crm.state, "uninstalled")
