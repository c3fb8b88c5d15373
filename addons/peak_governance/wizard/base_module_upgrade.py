# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import models


class BaseModuleUpgrade(models.TransientModel):
    """Modules marked before the freeze began (or by a direct write of their
    state) are applied here: check them too."""

    _inherit = "base.module.upgrade"

    def upgrade_module(self):
        self.env["ir.module.module"]._peak_check_pending("apply changes to")
        return super().upgrade_module()
