# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestPeakModeTour(HttpCase):
    def test_settings_toggle_lands_in_audit_log(self):
        self.env["peak.period"].search([]).action_archive()
        before = self.env["peak.mode.log"].search_count([])
        self.start_tour("/odoo/settings", "peak_base_peak_mode_tour", login="admin")
        entry = self.env["peak.mode.log"].search([], limit=1)
        self.assertEqual(entry.state, "on")
        self.assertEqual(entry.user_id, self.env.ref("base.user_admin"))
        self.assertEqual(entry.reason, "Tour: carrier cut-off moved")
        # The save without a reason recorded nothing: one switch, one entry.
        self.assertEqual(self.env["peak.mode.log"].search_count([]), before + 1)
