# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The access grant state machine and its crons: the only code that changes
the user's groups (sudo, here only)."""

import logging

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..lib import grants
from .peak_approval_mixin import APPROVER_GROUP

_logger = logging.getLogger(__name__)


def naive(value):
    return value.replace(tzinfo=None) if value else value


class PeakAccessGrant(models.Model):
    _inherit = "peak.access.grant"

    def _check_approval(self, now):
        error = grants.request_error(
            start=self._to_rule().start,
            end=self._to_rule().end,
            now=now,
            reason=self.reason,
            group_ids=self.group_ids.ids,
            requester_id=self.requester_id.id,
            approver_id=self.env.uid,
            user_id=self.user_id.id,
        )
        if error:
            raise UserError(error)
        self._check_grantable(
            self.env.user, self.group_ids, self.user_id, self.end_action
        )

    def _approved(self, now):
        if self._to_rule().start <= now:
            self._activate(now)

    def action_revoke(self, note=""):
        manager = self.env.user.has_group("peak_base.group_peak_manager")
        for grant in self:
            if grant.state not in ("requested", "approved", "active"):
                raise UserError(
                    _(
                        "%(name)s is already %(state)s.",
                        name=grant.display_name,
                        state=grant.state,
                    )
                )
            if not (
                self.env.su
                or manager
                or self.env.user.has_group(APPROVER_GROUP)
                or self.env.user == grant.requester_id
            ):
                raise AccessError(
                    _(
                        "Only its requester, an approver or a Peak Operations "
                        "manager can revoke it."
                    )
                )
            grant._finish("revoked", self._now(), note=note)
        return True

    def _activate(self, now):
        """Give the user the groups they lack; remember what was added."""
        self.ensure_one()
        user = self.user_id.sudo()
        before = user.groups_id
        add = grants.groups_to_add(self.group_ids.ids, before.ids)
        if add:
            user.write({"groups_id": [fields.Command.link(gid) for gid in add]})
        added = user.groups_id - before
        self._transition(
            {
                "state": "active",
                "activated_at": naive(now),
                "added_group_ids": [fields.Command.set(added.ids)],
            }
        )
        self._log("activated", user=False, groups=added)
        _logger.info(
            "access grant %s active: %s got %s",
            self.id,
            user.login,
            ", ".join(added.mapped("full_name")) or "nothing new",
        )

    def _finish(self, state, now, note="", user=None):
        """End or revoke: take back what the grant added (unless another
        active grant of the user wants it), remove its API keys and, for a
        seasonal account with no other active grant, archive the user. Never
        deletes the user or anything they made."""
        self.ensure_one()
        was_active = self.state == "active"
        removed = self.env["res.groups"]
        if was_active:
            others = self.sudo().search(
                [
                    ("user_id", "=", self.user_id.id),
                    ("state", "=", "active"),
                    ("id", "!=", self.id),
                ]
            )
            handover = grants.groups_to_remove(
                self._to_rule(), [o._to_rule() for o in others]
            )
            for other in others.filtered(lambda o: o.id in handover.keep):
                other._transition(
                    {
                        "added_group_ids": [
                            fields.Command.link(gid) for gid in handover.keep[other.id]
                        ]
                    }
                )
            removed = removed.browse(sorted(handover.remove))
            account = self.user_id.sudo()
            if removed:
                account.write(
                    {"groups_id": [fields.Command.unlink(g.id) for g in removed]}
                )
            if self.end_action == "archive_user" and not others and account.active:
                # As the superuser: Odoo refuses to archive the account of the
                # user running the request (a requester revoking their own).
                account.with_env(self.env(user=SUPERUSER_ID, su=True)).action_archive()
        # They would expire at the grant's end anyway (see res_users_apikeys.py);
        # removing them now makes a revocation take effect at once.
        keys = self.sudo().apikey_ids.exists()
        if keys:
            keys._remove()
        self._transition({"state": state, "ended_at": naive(now)})
        self._log(state, note, user=user, groups=removed)
        _logger.info(
            "access grant %s %s: %s lost %s",
            self.id,
            state,
            self.user_id.login,
            ", ".join(removed.mapped("full_name")) or "nothing",
        )

    @api.model
    def _cron_run(self):
        """End the grants whose time is up, then start the due ones.
        Idempotent and safe to run late: it only does what is still due, and
        a grant whose end passed before it started never adds anything."""
        now = self._now()
        candidates = self.sudo().search(
            [
                ("state", "in", ("approved", "active")),
                ("date_start", "<=", naive(now)),
            ]
        )
        rules = [c._to_rule() for c in candidates]
        ended = candidates.browse(grants.due_to_end(rules, now))
        done_ended = sum(
            grant._cron_step(grant._finish, "ended", now, user=False) for grant in ended
        )
        started = candidates.browse(grants.due_to_start(rules, now)) - ended
        # Only a recorded approval starts a grant (defence in depth).
        started = started.filtered("approved_at")
        done_started = sum(grant._cron_step(grant._activate, now) for grant in started)
        return done_ended, done_started

    def _cron_step(self, step, *args, **kwargs) -> bool:
        """One grant's step in its own savepoint: a grant that cannot be
        applied (a group Odoo refuses for that user…) is logged and left for
        the next run, and never stops the others from ending."""
        try:
            with self.env.cr.savepoint():
                step(*args, **kwargs)
            return True
        except Exception:
            _logger.exception(
                "access grant %s: %s failed, retried at the next run",
                self.id,
                step.__name__,
            )
            return False
