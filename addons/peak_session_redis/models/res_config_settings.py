# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import api, fields, models
from odoo.tools import config as odoo_config

from ..hooks import current_store
from ..lib.store import SessionStoreUnavailable


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    peak_session_store = fields.Char(
        "Session store", compute="_compute_peak_session_store", readonly=True
    )
    peak_session_store_health = fields.Char(
        "Session store health", compute="_compute_peak_session_store", readonly=True
    )

    # Like base_setup's: without a dependency the form's first load (an
    # onchange on a new record) shows these blank until a save.
    @api.depends("company_id")
    def _compute_peak_session_store(self):
        store = current_store()
        if store is None:
            where = f"Odoo filesystem ({odoo_config.session_dir})"
            health = "local disk: sessions are not shared between servers"
        else:
            where = f"Redis {store.config.target} (prefix {store.prefix})"
            try:
                health = f"healthy, ping {store.ping() * 1000:.1f} ms"
            except SessionStoreUnavailable:
                health = (
                    "UNREACHABLE: requests that need a session get 503; "
                    f"retrying every {store.config.retry_interval:g} s"
                )
        for settings in self:
            settings.peak_session_store = where
            settings.peak_session_store_health = health
