# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import api, models

# The immediate variants check first too: they lock ir_cron and commit before
# calling the plain ones, and a refusal must come before anything.
_ACTIONS = {
    "button_install": "install",
    "button_immediate_install": "install",
    "button_upgrade": "upgrade",
    "button_immediate_upgrade": "upgrade",
    "button_uninstall": "uninstall",
    "button_immediate_uninstall": "uninstall",
}


_CHECKED = "peak_freeze_checked"
# The value must be this object, which no RPC caller can send (JSON only):
# a context key alone would let anyone skip the check.
_CHECKED_TOKEN = object()


class IrModuleModule(models.Model):
    """Apps, the API and the upgrade wizard all go through these methods."""

    _inherit = "ir.module.module"

    def _peak_check_freeze(self, method):
        if self and self.env.context.get(_CHECKED) is not _CHECKED_TOKEN:
            self.env["peak.change.freeze"]._check_modules(
                self.mapped("name"), _ACTIONS[method]
            )

    def button_install(self):
        self._peak_check_freeze("button_install")
        return super().button_install()

    def button_immediate_install(self):
        self._peak_check_freeze("button_immediate_install")
        # Checked once: the immediate variant calls the plain one again.
        checked = self.with_context(**{_CHECKED: _CHECKED_TOKEN})
        return super(IrModuleModule, checked).button_immediate_install()

    def button_upgrade(self):
        self._peak_check_freeze("button_upgrade")
        return super().button_upgrade()

    def button_immediate_upgrade(self):
        self._peak_check_freeze("button_immediate_upgrade")
        # Checked once: the immediate variant calls the plain one again.
        checked = self.with_context(**{_CHECKED: _CHECKED_TOKEN})
        return super(IrModuleModule, checked).button_immediate_upgrade()

    def button_uninstall(self):
        self._peak_check_freeze("button_uninstall")
        return super().button_uninstall()

    def button_immediate_uninstall(self):
        self._peak_check_freeze("button_immediate_uninstall")
        # Checked once: the immediate variant calls the plain one again.
        checked = self.with_context(**{_CHECKED: _CHECKED_TOKEN})
        return super(IrModuleModule, checked).button_immediate_uninstall()

    @api.model
    def _peak_check_pending(self, action):
        """Check the modules already marked to install, upgrade or remove:
        each covered, or marked because of a covered one."""
        pending = self.search(
            [("state", "in", ("to install", "to upgrade", "to remove"))]
        )
        if pending:
            self.env["peak.change.freeze"]._check_modules(
                [],
                action,
                pending={m.name: m.state for m in pending},
                depends={
                    m.name: frozenset(m.dependencies_id.mapped("name")) for m in pending
                },
                auto_install=pending.filtered("auto_install").mapped("name"),
            )
