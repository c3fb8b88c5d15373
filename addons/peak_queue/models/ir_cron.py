# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Tag the PostgreSQL session of every cron run (see docs/attribution.md).

A cron worker runs a scheduled action through ``ir.cron._callback`` on the
job's own cursor (``_run_job``); "Run Manually" goes through
``method_direct_trigger`` inside the HTTP request that asked for it.  Both
say ``pk1|cron|<id>|<name>`` while the server action runs and put the
previous ``application_name`` back afterwards (after a failure ``_callback``
has already rolled back, which undoes the tag unless the action committed;
the restore then runs in the new transaction).
"""

import logging

from odoo import models

from ..lib import attribution

_logger = logging.getLogger(__name__)


def cron_tag(cron_id, name):
    try:
        return attribution.format_cron_tag(cron_id, name or "")
    except ValueError as exc:
        # Attribution must never cost a cron its run.
        _logger.warning("cron %s runs untagged: %s", cron_id, exc)
        return None


class IrCron(models.Model):
    _inherit = "ir.cron"

    def _callback(self, cron_name, server_action_id):
        tag = cron_tag(self.id, cron_name)
        if tag is None:
            return super()._callback(cron_name, server_action_id)
        with attribution.tagged_session(self.env.cr, tag):
            return super()._callback(cron_name, server_action_id)

    def method_direct_trigger(self):
        tag = cron_tag(self.id, self.cron_name) if len(self) == 1 else None
        if tag is None:
            return super().method_direct_trigger()
        with attribution.tagged_session(self.env.cr, tag):
            return super().method_direct_trigger()
