# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging

from odoo import fields, models

from odoo.addons.base.models.res_users import INDEX_SIZE

from .peak_approval_mixin import TRANSITION, TRANSITION_TOKEN

_logger = logging.getLogger(__name__)


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    def _generate(self, scope, name, expiration_date):
        """A key made while one of the user's access grants is active expires
        no later than the earliest end of those grants (a persistent key
        included): access given for the season must not outlive it through
        RPC. Without an active grant, Odoo's own rule applies unchanged."""
        active = (
            self.env["peak.access.grant"]
            .sudo()  # the user may not read grants; only their end matters
            .search([("user_id", "=", self.env.uid), ("state", "=", "active")])
        )
        if not active:
            return super()._generate(scope, name, expiration_date)
        limit = min(active.mapped("date_end"))
        wanted = fields.Datetime.to_datetime(expiration_date)
        if wanted is None or wanted > limit:
            _logger.info(
                "API key %r of %s clamped to the end of its access grant, %s",
                name,
                self.env.user.login,
                limit,
            )
            expiration_date = limit
        key = super()._generate(scope, name, expiration_date)
        # Linked to the grants so ending or revoking one removes the key.
        self.env.cr.execute(
            "SELECT id FROM res_users_apikeys WHERE user_id = %s AND index = %s "
            "ORDER BY id DESC LIMIT 1",
            [self.env.uid, key[:INDEX_SIZE]],
        )
        key_id = self.env.cr.fetchone()[0]
        active.with_context(**{TRANSITION: TRANSITION_TOKEN}).write(
            {"apikey_ids": [fields.Command.link(key_id)]}
        )
        return key
