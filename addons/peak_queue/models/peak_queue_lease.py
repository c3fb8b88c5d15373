# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import json
import logging
import os
from pathlib import Path

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import config

from ..lib import activity, grants

_logger = logging.getLogger(__name__)

CONTRACT_SQL = (
    Path(__file__).resolve().parent.parent / "data" / "peak_queue_contract.sql"
)
INVALID_PARAMETER = "22023"
DEFAULT_GOVERNOR_ROLE = "peak_governor"
DEFAULT_KEDA_ROLE = "peak_keda"


def governor_role() -> str:
    """env PEAK_GOVERNOR_ROLE > [peak_queue] governor_role > peak_governor."""
    return os.environ.get("PEAK_GOVERNOR_ROLE") or config.get_misc(
        "peak_queue", "governor_role", DEFAULT_GOVERNOR_ROLE
    )


def keda_role() -> str:
    """env PEAK_KEDA_ROLE > [peak_queue] keda_role > peak_keda."""
    return os.environ.get("PEAK_KEDA_ROLE") or config.get_misc(
        "peak_queue", "keda_role", DEFAULT_KEDA_ROLE
    )


class PeakQueueLease(models.Model):
    """A time-boxed pause of one job channel, separate from the manual pause.

    Leases are written through the SQL functions of the DB contract
    (data/peak_queue_contract.sql) by the governor and by this model alike, so
    both obey the same rules. queue_job's jobrunner honours a lease until
    ``expires_at`` (database clock) and then ignores it by itself.
    """

    _name = "peak.queue.lease"
    _description = "Channel pause lease"
    _order = "id desc"
    _rec_name = "channel_id"

    channel_id = fields.Many2one(
        "queue.job.channel",
        required=True,
        ondelete="cascade",
        readonly=True,
        index=True,
    )
    holder = fields.Char(
        required=True, readonly=True, help="Governor instance id or user login."
    )
    reason = fields.Char("Reason code", required=True, readonly=True)
    reason_label = fields.Char(compute="_compute_labels", string="Why")
    holder_label = fields.Char(compute="_compute_labels", string="Held by")
    evidence = fields.Json("Evidence (JSON)", readonly=True)
    evidence_text = fields.Text(compute="_compute_evidence_text", string="Evidence")
    expires_at = fields.Datetime(required=True, readonly=True, index=True)
    released_at = fields.Datetime(readonly=True)
    trickle = fields.Boolean(
        readonly=True,
        help="Instead of stopping the channel, let one job at a time run "
        "(the governor's starvation guard).",
    )
    state = fields.Selection(
        [("active", "Active"), ("released", "Released"), ("expired", "Expired")],
        required=True,
        readonly=True,
        index=True,
    )

    @api.depends("reason", "holder")
    def _compute_labels(self):
        for lease in self:
            lease.reason_label = activity.reason_label(lease.reason)
            lease.holder_label = activity.holder_label(lease.holder)

    def init(self):
        # SQL function bodies name columns of tables other models create (maybe
        # later in this same install): check them when called, not now.
        self.env.cr.execute("SET LOCAL check_function_bodies = off")
        self.env.cr.execute(CONTRACT_SQL.read_text())

    def _grant_governor_role(self):
        """Give the governor's and KEDA's roles (those that exist) exactly
        their grants (lib/grants.py). Called by
        ``peak.queue.lease.event.init()``: the last of the contract's tables
        to exist on a first install. Creating the roles is the deployment's
        job (docker/postgres/initdb, CloudNativePG managed roles)."""
        for role, grant in (
            (governor_role(), grants.grant_governor),
            (keda_role(), grants.grant_keda),
        ):
            if not grants.role_exists(self.env.cr, role):
                _logger.info("no PostgreSQL role %s: its grants are skipped", role)
                continue
            grant(self.env.cr, role)
            _logger.info("granted least privilege to PostgreSQL role %s", role)

    def _compute_evidence_text(self):
        for lease in self:
            lease.evidence_text = json.dumps(
                lease.evidence or {}, indent=2, sort_keys=True
            )

    @api.model
    def _check_manager(self):
        if not (self.env.su or self.env.user.has_group("peak_base.group_peak_manager")):
            raise AccessError(_("Only Peak Operations managers can lease channels."))

    @api.model
    def _call_contract(self, query: str, params: tuple):
        """Run a contract function; its validation errors become UserErrors and
        leave the transaction usable (savepoint)."""
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(query, params)
                return self.env.cr.fetchall()
        except psycopg2.Error as exc:
            if exc.pgcode != INVALID_PARAMETER:
                raise
            message = (exc.diag.message_primary or str(exc)).removeprefix(
                "peak lease: "
            )
            raise UserError(_("Cannot lease: %s", message)) from exc
        finally:
            self.invalidate_model()

    @api.model
    def acquire(
        self,
        channel: str,
        reason: str,
        evidence=None,
        ttl_seconds=60,
        holder=None,
        trickle=False,
    ):
        """Take (or renew) a lease; return the lease record. A ``trickle`` lease
        lets one job at a time run instead of none."""
        self._check_manager()
        if evidence is None:
            evidence = {}
        if not isinstance(evidence, dict):
            raise UserError(_("Cannot lease: evidence must be a JSON object"))
        rows = self._call_contract(
            "SELECT * FROM peak_queue_lease_acquire(%s, %s, %s, %s::jsonb, %s, %s)",
            (
                channel,
                holder or self.env.user.login,
                reason,
                json.dumps(evidence),
                ttl_seconds,
                bool(trickle),
            ),
        )
        return self.browse(rows[0][0])

    @api.model
    def release(self, channel: str | None, holder: str | None = None, reason=""):
        """Release active leases; return how many were released."""
        self._check_manager()
        rows = self._call_contract(
            "SELECT peak_queue_lease_release(%s, %s, %s)", (channel, holder, reason)
        )
        return rows[0][0]

    @api.model
    def _expire_overdue(self) -> int:
        self.env.cr.execute("SELECT peak_queue_lease_expire()")
        count = self.env.cr.fetchone()[0]
        if count:
            self.invalidate_model()
        return count

    @api.model
    def _cron_expire(self):
        count = self._expire_overdue()
        if count:
            _logger.info("recorded %s expired channel lease(s)", count)

    def action_release(self):
        for lease in self.filtered(lambda lease: lease.state == "active"):
            self.release(
                lease.channel_id.complete_name,
                holder=lease.holder,
                reason=_("released by %s", self.env.user.name),
            )
