# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..lib import freeze
from .peak_change_freeze import aware

_logger = logging.getLogger(__name__)


class PeakChangeException(models.Model):
    """An emergency exception to the change freeze: named modules may be
    installed, upgraded or removed until ``expires_at``, once a member of the
    approver group other than the requester approved it.

    requested → approved → expired, or → revoked (from requested or approved);
    a request not approved in time expires too. Every step is written to the
    append-only ``peak.change.exception.log``.
    """

    _name = "peak.change.exception"
    # _check_approver: the approver rule shared with access grants.
    _inherit = ["peak.approval.mixin"]
    _description = "Change freeze exception"
    _order = "id desc"
    _machine_fields = frozenset({"state", "requester_id", "approved_at", "closed_at"})
    _request_fields = frozenset(
        {"approver_id", "reason", "module_ids", "setting_ids", "expires_at"}
    )

    state = fields.Selection(
        [
            ("requested", "Requested"),
            ("approved", "Approved"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
        ],
        default="requested",
        required=True,
        readonly=True,
        index=True,
    )
    module_ids = fields.Many2many(
        "ir.module.module",
        # Named: lib/sql_guard.py reads it with plain SQL.
        relation="peak_change_exception_module_rel",
        column1="exception_id",
        column2="module_id",
        string="Modules",
        help="Only these modules may be installed, upgraded or removed.",
    )
    setting_ids = fields.Many2many(
        "peak.frozen.setting",
        relation="peak_change_exception_setting_rel",
        column1="exception_id",
        column2="setting_id",
        string="Frozen settings",
        context={"active_test": False},
        help="Only these frozen settings may be changed.",
    )
    expires_at = fields.Datetime(
        "Expires", required=True, help="Not later than the end of the peak period."
    )
    approved_at = fields.Datetime(readonly=True)
    closed_at = fields.Datetime("Expired or revoked at", readonly=True)
    effective = fields.Boolean(
        compute="_compute_effective", help="Approved and not expired, right now."
    )
    log_ids = fields.One2many(
        "peak.change.exception.log", "exception_id", string="Audit log"
    )

    @api.depends("module_ids", "setting_ids", "requester_id")
    def _compute_display_name(self):
        for exc in self:
            exc.display_name = _(
                "Change exception #%(id)s (%(modules)s)",
                id=exc.id or "",
                modules=", ".join(
                    exc.module_ids.mapped("name") + exc.setting_ids.mapped("name")
                ),
            )

    @api.depends("state", "expires_at")
    def _compute_effective(self):
        now = self._now()
        for exc in self:
            exc.effective = bool(exc.id) and exc._to_rule().effective(now)

    def _to_rule(self) -> freeze.ChangeException:
        self.ensure_one()
        return freeze.ChangeException(
            id=self.id,
            modules=frozenset(self.module_ids.mapped("name")),
            settings=frozenset(self.setting_ids.ids),
            state=self.state,
            expires_at=aware(self.expires_at),
            name=self.display_name,
        )

    # --- validation, before anything is written --------------------------

    def _check_request(self, vals):
        """Refuse a bad request with one message: no approver, self-approval,
        approver outside the group, no module, expiry in the past or after
        the period."""
        if not vals.get("approver_id"):
            raise ValidationError(
                _(
                    "Name an approver: a member of the “Peak change approver” "
                    "group other than you."
                )
            )
        users = self.env["res.users"].sudo()
        requester = users.browse(vals.get("requester_id") or self.env.uid)
        self._check_approver(users.browse(vals["approver_id"]), requester)
        if not (vals.get("reason") or "").strip():
            raise ValidationError(
                _("Say why the change cannot wait for the period end.")
            )
        scope = self.new(
            {
                "module_ids": vals.get("module_ids"),
                "setting_ids": vals.get("setting_ids"),
            }
        )
        if not (scope.module_ids or scope.setting_ids):
            raise ValidationError(
                _("Name the modules or the frozen settings the exception covers.")
            )
        if not vals.get("expires_at"):
            raise ValidationError(_("Give the exception an expiry."))
        freezer = self.env["peak.change.freeze"]
        error = freeze.expiry_error(
            aware(fields.Datetime.to_datetime(vals["expires_at"])),
            freezer._periods(),
            freezer._now(),
        )
        if error:
            raise ValidationError(error)

    # --- the state machine ------------------------------------------------

    def _check_approval(self, now):
        freezer = self.env["peak.change.freeze"]
        error = freeze.expiry_error(aware(self.expires_at), freezer._periods(), now)
        if error:
            raise UserError(error)

    def action_revoke(self, note=""):
        manager = self.env.user.has_group("peak_base.group_peak_manager")
        for exc in self:
            if exc.state not in ("requested", "approved"):
                raise UserError(
                    _(
                        "%(name)s is already %(state)s.",
                        name=exc.display_name,
                        state=exc.state,
                    )
                )
            if not (
                self.env.su
                or manager
                or self.env.user in exc.requester_id | exc.approver_id
            ):
                raise AccessError(
                    _(
                        "Only its requester, its approver or a Peak Operations "
                        "manager can revoke it."
                    )
                )
            now = self._now().replace(tzinfo=None)
            exc._transition({"state": "revoked", "closed_at": now})
            exc._log("revoked", note)
        return True

    @api.model
    def _cron_expire(self):
        """Mark exceptions whose time is up as expired. Idempotent and safe to
        run late: the rule already treats them as expired at ``expires_at``."""
        now = self._now()
        candidates = self.sudo().search(
            [
                ("state", "in", ("requested", "approved")),
                ("expires_at", "<=", now.replace(tzinfo=None)),
            ]
        )
        due = candidates.browse(
            freeze.due_for_expiry([c._to_rule() for c in candidates], now)
        )
        for exc in due:
            exc._transition({"state": "expired", "closed_at": exc.expires_at})
            exc._log("expired", user=False)
        return len(due)

    def _log(self, event, note="", user=None, modules=None):
        self.ensure_one()
        self.env["peak.change.exception.log"].sudo().create(
            {
                "exception_id": self.id,
                "event": event,
                "user_id": self.env.uid if user is None else user,
                "note": (note or "").strip() or False,
                "modules": modules
                or ", ".join(
                    self.module_ids.mapped("name") + self.setting_ids.mapped("name")
                ),
                "expires_at": self.expires_at,
            }
        )

    def _log_use(self, action, modules):
        for exc in self:
            exc._log(
                "used",
                _("%(action)s %(modules)s", action=action, modules=", ".join(modules)),
                modules=", ".join(
                    sorted(
                        set(modules)
                        & set(
                            exc.module_ids.mapped("name")
                            + exc.setting_ids.mapped("name")
                        )
                    )
                ),
            )
