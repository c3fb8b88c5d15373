# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import models

from ..hooks import patch_websocket


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def _register_hook(self):
        super()._register_hook()
        patch_websocket()
