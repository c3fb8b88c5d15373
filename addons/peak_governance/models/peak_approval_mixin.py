# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

_logger = logging.getLogger(__name__)

APPROVER_GROUP = "peak_governance.group_peak_change_approver"
# Context key of the state machine's own writes (``_transition``). Its value
# must be this very object: an RPC caller chooses context keys and JSON
# values, never a Python object, so it cannot pass for the state machine.
TRANSITION = "peak_approval_transition"
TRANSITION_TOKEN = object()


def in_transition(env) -> bool:
    return env.context.get(TRANSITION) is TRANSITION_TOKEN


class PeakApprovalMixin(models.AbstractModel):
    """A request someone else approves, shared by change exceptions and access
    grants: the approver is a member of the “Peak change approver” group,
    never the requester; requested in one's own name; the request is frozen
    once it leaves ``requested``; the state fields change through the state
    machine only; nothing is deleted. The models give ``_check_request`` and
    ``_log``."""

    _name = "peak.approval.mixin"
    _description = "Peak approval rule"
    #: What is approved, as the messages name it (singular, plural).
    _approval_noun = ("change exception", "change exceptions")
    #: Changed by the state machine only (``_transition``), never by a write.
    _machine_fields = frozenset({"state", "requester_id"})
    #: Frozen once the request leaves "requested": what was approved is the record.
    _request_fields = frozenset()

    requester_id = fields.Many2one(
        "res.users",
        string="Requested by",
        default=lambda self: self.env.user,
        required=True,
        readonly=True,
        ondelete="restrict",
    )
    approver_id = fields.Many2one(
        "res.users",
        string="Approver",
        required=True,
        ondelete="restrict",
        domain=lambda self: [("groups_id", "in", self.env.ref(APPROVER_GROUP).ids)],
        help="A member of the Peak change approver group, not the requester.",
    )
    reason = fields.Text(required=True)

    def _check_approver(self, approver, requester):
        noun, nouns = self._approval_noun
        if approver == requester:
            raise ValidationError(
                _(
                    "%(user)s cannot approve their own %(noun)s: name "
                    "another member of the “Peak change approver” group.",
                    user=requester.name,
                    noun=noun,
                )
            )
        if not approver.has_group(APPROVER_GROUP):
            raise ValidationError(
                _(
                    "%(user)s is not in the “Peak change approver” group and "
                    "cannot approve %(nouns)s.",
                    user=approver.name,
                    nouns=nouns,
                )
            )

    def _check_request(self, vals):
        """Raise ValidationError, one message, when ``vals`` (a whole request)
        cannot be asked for."""
        raise NotImplementedError

    def _check_approval(self, now):
        """Raise UserError when the request can no longer be approved at
        ``now`` by the current user (its rules may have moved since)."""

    def _approved(self, now):
        """What follows an approval (a grant whose start has come starts)."""

    @api.model
    def _now(self):
        return self.env["peak.mode"]._now()

    def action_approve(self):
        now = self._now()
        for request in self:
            if request.state != "requested":
                raise UserError(
                    _(
                        "%(name)s is %(state)s: only a request can be approved.",
                        name=request.display_name,
                        state=request.state,
                    )
                )
            request._check_approver(self.env.user, request.requester_id)
            request._check_approval(now)
            # Another approver may step in: the record says who really approved.
            request._transition(
                {
                    "state": "approved",
                    "approver_id": self.env.uid,
                    "approved_at": now.replace(tzinfo=None),
                }
            )
            request._log("approved")
            _logger.info(
                "%s %s approved by %s",
                request._description,
                request.id,
                self.env.user.login,
            )
            request._approved(now)
        return True

    def _transition(self, vals):
        return self.with_context(**{TRANSITION: TRANSITION_TOKEN}).sudo().write(vals)

    def _merged_request(self, vals) -> dict:
        """The request as it would be after writing ``vals``."""
        self.ensure_one()
        merged = {"requester_id": self.requester_id.id}
        for name in self._request_fields:
            field = self._fields[name]
            if field.type == "many2many":
                # The commands apply to the current records, as write does.
                merged[name] = [
                    fields.Command.set(self[name].ids),
                    *vals.get(name, []),
                ]
            elif name in vals:
                merged[name] = vals[name]
            else:
                merged[name] = self[name].id if field.type == "many2one" else self[name]
        return merged

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.keys() & self._machine_fields - {"requester_id"} or (
                vals.get("requester_id", self.env.uid) != self.env.uid
                and not self.env.su
            ):
                raise AccessError(
                    _(
                        "%(nouns)s are requested in your own name.",
                        nouns=self._approval_noun[1].capitalize(),
                    )
                )
            self._check_request(vals)
        records = super().create(vals_list)
        for record in records:
            record._log("requested", record.reason)
        return records

    def write(self, vals):
        if vals.keys() & self._machine_fields and not in_transition(self.env):
            raise AccessError(
                _(
                    "Use the Approve and Revoke buttons to change %(nouns)s.",
                    nouns=self._approval_noun[1],
                )
            )
        if vals.keys() & self._request_fields:
            for request in self:
                if request.state != "requested":
                    raise UserError(
                        _(
                            "%(name)s is %(state)s: it can no longer be changed. "
                            "Revoke it if needed and ask for a new one.",
                            name=request.display_name,
                            state=request.state,
                        )
                    )
                request._check_request(request._merged_request(vals))
        return super().write(vals)

    def unlink(self):
        raise UserError(
            _(
                "%(nouns)s are kept for the audit: revoke it instead.",
                nouns=self._approval_noun[1].capitalize(),
            )
        )
