# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..lib import grants
from .peak_change_freeze import aware

_logger = logging.getLogger(__name__)


class PeakAccessGrant(models.Model):
    """Groups for a user for a bounded period (seasonal staff, a partner's
    integration user, an external support engineer).

    requested → approved (start in the future) → active → ended, or → revoked
    from requested, approved or active. The state machine (``_activate``,
    ``_finish``, in ``peak_access_grant_run.py``) and the cron do the
    changes to the user; every step goes to ``peak.access.grant.log``.
    """

    _name = "peak.access.grant"
    _inherit = ["peak.approval.mixin"]
    _description = "Peak access grant"
    _order = "date_end desc, id desc"
    _approval_noun = ("access grant", "access grants")
    _machine_fields = frozenset(
        {
            "state",
            "requester_id",
            "added_group_ids",
            "approved_at",
            "activated_at",
            "ended_at",
            "apikey_ids",
        }
    )
    _request_fields = frozenset(
        {
            "user_id",
            "group_ids",
            "date_start",
            "date_end",
            "approver_id",
            "reason",
            "end_action",
        }
    )

    user_id = fields.Many2one(
        "res.users",
        string="User",
        required=True,
        ondelete="restrict",
        index=True,
        context={"active_test": False},
        help="Who gets the groups: seasonal staff, an integration user, …",
    )
    group_ids = fields.Many2many(
        "res.groups",
        relation="peak_access_grant_group_rel",
        column1="grant_id",
        column2="group_id",
        string="Groups",
        required=True,
    )
    added_group_ids = fields.Many2many(
        "res.groups",
        relation="peak_access_grant_added_group_rel",
        column1="grant_id",
        column2="group_id",
        string="Groups added",
        readonly=True,
        help="What this grant actually added (the user lacked them): ending it "
        "removes these, unless another active grant wants them.",
    )
    date_start = fields.Datetime(
        "Start", required=True, index=True, default=fields.Datetime.now
    )
    date_end = fields.Datetime("End", required=True, index=True)
    end_action = fields.Selection(
        [
            ("remove_groups", "Remove the groups"),
            ("archive_user", "Archive the user (seasonal account)"),
        ],
        default="remove_groups",
        required=True,
        help="At the end the groups the grant added are removed; a seasonal "
        "account is also archived. Nothing the user did is deleted.",
    )
    state = fields.Selection(
        [
            ("requested", "Requested"),
            ("approved", "Approved"),
            ("active", "Active"),
            ("ended", "Ended"),
            ("revoked", "Revoked"),
        ],
        default="requested",
        required=True,
        readonly=True,
        index=True,
    )
    approved_at = fields.Datetime(readonly=True)
    activated_at = fields.Datetime(readonly=True)
    ended_at = fields.Datetime("Ended or revoked at", readonly=True)
    apikey_ids = fields.Many2many(
        "res.users.apikeys",
        relation="peak_access_grant_apikey_rel",
        column1="grant_id",
        column2="apikey_id",
        string="API keys",
        readonly=True,
        groups="base.group_system",
        help="API keys the user created under the grant: removed with it.",
    )
    log_ids = fields.One2many("peak.access.grant.log", "grant_id", string="Audit log")

    @api.depends("user_id", "group_ids")
    def _compute_display_name(self):
        for grant in self:
            grant.display_name = _(
                "Access grant #%(id)s: %(user)s",
                id=grant.id or "",
                user=grant.user_id.name or "",
            )

    def _to_rule(self) -> grants.Grant:
        self.ensure_one()
        wanted = self.group_ids | self.group_ids.trans_implied_ids
        return grants.Grant(
            id=self.id,
            user_id=self.user_id.id,
            state=self.state,
            start=aware(self.date_start),
            end=aware(self.date_end),
            wants=frozenset(wanted.ids),
            added=frozenset(self.added_group_ids.ids),
            ended_at=aware(self.ended_at),
        )

    # --- validation, before anything is written --------------------------

    def _check_grantable(self, approver, groups, user, end_action):
        """An approver grants only groups they hold themselves (nobody hands
        out more than they have), never a user type (Internal, Portal,
        Public: an account's nature, not a seasonal right), and a grant never
        archives an administrator's account."""
        user_types = self.env.ref("base.module_category_user_type")
        typed = groups.filtered(lambda g: g.category_id == user_types)
        if typed:
            raise ValidationError(
                _(
                    "%(groups)s is a user type, not an access for a time: change "
                    "the account itself, or grant groups of its type.",
                    groups=", ".join(typed.mapped("full_name")),
                )
            )
        missing = groups - approver.groups_id
        if missing:
            raise ValidationError(
                _(
                    "%(user)s cannot grant %(groups)s: an approver grants only "
                    "groups they hold themselves.",
                    user=approver.name,
                    groups=", ".join(missing.mapped("full_name")),
                )
            )
        admin = user.has_group("base.group_erp_manager") or user.has_group(
            "base.group_system"
        )
        if end_action == "archive_user" and admin:
            raise ValidationError(
                _(
                    "%(user)s administers Odoo: a grant does not archive that "
                    "account. Choose “Remove the groups”.",
                    user=user.name,
                )
            )

    def _check_request(self, vals):
        """Refuse a bad request with one message each, nothing written."""
        users = self.env["res.users"].sudo()
        requester = users.browse(vals.get("requester_id") or self.env.uid)
        groups = self.new({"group_ids": vals.get("group_ids")}).group_ids
        group_ids = groups.ids
        if vals.get("approver_id"):
            approver = users.browse(vals["approver_id"])
            self._check_approver(approver, requester)
            if group_ids and vals.get("user_id"):
                self._check_grantable(
                    approver,
                    groups._origin,
                    users.browse(vals["user_id"]),
                    vals.get("end_action") or "remove_groups",
                )
        to_dt = fields.Datetime.to_datetime
        error = grants.request_error(
            start=aware(to_dt(vals.get("date_start"))) or None,
            end=aware(to_dt(vals.get("date_end"))) or None,
            now=self._now(),
            reason=vals.get("reason"),
            group_ids=group_ids,
            requester_id=requester.id,
            approver_id=vals.get("approver_id") or None,
            user_id=vals.get("user_id") or None,
        )
        if error:
            raise ValidationError(error)

    def _log(self, event, note="", user=None, groups=None):
        self.ensure_one()
        groups = self.group_ids if groups is None else groups
        self.env["peak.access.grant.log"].sudo().create(
            {
                "grant_id": self.id,
                "event": event,
                "user_id": self.env.uid if user is None else user,
                "grant_user_id": self.user_id.id,
                "groups": ", ".join(groups.mapped("full_name")) or False,
                "note": (note or "").strip() or False,
                "date_end": self.date_end,
            }
        )
