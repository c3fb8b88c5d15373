# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, models
from odoo.exceptions import AccessError


class PeakAuditLogMixin(models.AbstractModel):
    """An append-only audit trail: rows are written by their owner model
    (or the DB contract's SQL) only; nobody, not even the superuser through
    the ORM, may edit or delete them. Messages name the log by its
    ``_description``."""

    _name = "peak.audit.log.mixin"
    _description = "Append-only audit log"

    def write(self, vals):
        raise AccessError(
            _("%(log)s cannot be edited: it is an audit trail.", log=self._description)
        )

    def unlink(self):
        raise AccessError(
            _("%(log)s cannot be deleted: it is an audit trail.", log=self._description)
        )
