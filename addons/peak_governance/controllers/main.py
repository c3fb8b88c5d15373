# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import http
from odoo.http import request

FILENAME = "sync-windows.yaml"


class SyncWindowsExport(http.Controller):
    @http.route(
        "/peak_governance/argocd/sync-windows.yaml",
        type="http",
        auth="user",
        methods=["GET"],
    )
    def sync_windows(self):
        """The menu's download; access is checked by the model method."""
        text = request.env["peak.sync.window.export"].export_yaml()
        return request.make_response(
            text.encode(),
            headers=[
                ("Content-Type", "application/yaml; charset=utf-8"),
                ("Content-Disposition", f'attachment; filename="{FILENAME}"'),
                ("Cache-Control", "no-store"),
            ],
        )
