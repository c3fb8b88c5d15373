# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, api, fields, models
from odoo.exceptions import UserError

PRIORITY_CLASSES = [
    ("critical", "Critical"),
    ("operational", "Operational"),
    ("background", "Background"),
    ("bulk", "Bulk"),
]
# Jobs in a channel without a class anywhere up its chain (root included).
DEFAULT_CLASS = "operational"


class QueueJobChannel(models.Model):
    _inherit = "queue.job.channel"

    priority_class = fields.Selection(
        PRIORITY_CLASSES,
        help="Critical > Operational > Background > Bulk. Empty: inherited from "
        "the parent channel (root: Operational). The governor pauses bulk first "
        "and never pauses critical channels.",
    )
    effective_class = fields.Selection(
        PRIORITY_CLASSES,
        compute="_compute_effective_class",
        recursive=True,
        string="Class",
    )
    pinned = fields.Boolean(
        "Never pause",
        help="Pinned channels (and the channels above them) are never leased by "
        "the governor, e.g. during an urgent import.",
    )
    lease_ids = fields.One2many("peak.queue.lease", "channel_id", string="Leases")
    active_lease_id = fields.Many2one(
        "peak.queue.lease", compute="_compute_lease_state", string="Active lease"
    )
    lease_remaining = fields.Integer(
        compute="_compute_lease_state", string="Lease left (s)"
    )
    pending_count = fields.Integer(compute="_compute_job_counts", string="Pending")
    running_count = fields.Integer(compute="_compute_job_counts", string="Running")
    # queue_job reads capacity 0 as "no limit", which a bare 0 hides.
    capacity_label = fields.Char(compute="_compute_capacity_label", string="Capacity")

    @api.depends("capacity")
    def _compute_capacity_label(self):
        for channel in self:
            channel.capacity_label = (
                str(channel.capacity) if channel.capacity else self.env._("unlimited")
            )

    @api.depends("priority_class", "parent_id.effective_class")
    def _compute_effective_class(self):
        for channel in self:
            channel.effective_class = (
                channel.priority_class
                or (channel.parent_id and channel.parent_id.effective_class)
                or DEFAULT_CLASS
            )

    def _compute_lease_state(self):
        self.env["peak.queue.lease"]._expire_overdue()
        now = fields.Datetime.now()
        leases = self.env["peak.queue.lease"].search(
            [("channel_id", "in", self.ids), ("state", "=", "active")],
            order="expires_at desc",
        )
        for channel in self:
            lease = leases.filtered(lambda lease, c=channel: lease.channel_id == c)[:1]
            channel.active_lease_id = lease
            channel.lease_remaining = (
                max(0, int((lease.expires_at - now).total_seconds())) if lease else 0
            )

    def _compute_job_counts(self):
        counts = {
            (channel, state): count
            for channel, state, count in self.env["queue.job"]._read_group(
                [("channel", "in", self.mapped("complete_name"))],
                ["channel", "state"],
                ["__count"],
            )
        }
        for channel in self:
            name = channel.complete_name
            channel.pending_count = counts.get((name, "pending"), 0)
            channel.running_count = counts.get((name, "started"), 0) + counts.get(
                (name, "enqueued"), 0
            )

    @api.model
    def _peak_class_of(self, channel_name: str) -> str:
        """Class of a channel by complete name; unknown names fall back to their
        closest known ancestor (queue_job does the same when routing jobs)."""
        name = channel_name or "root"
        while name:
            channel = self.sudo().search([("complete_name", "=", name)], limit=1)
            if channel:
                return channel.effective_class
            name = name.rpartition(".")[0]
        return DEFAULT_CLASS

    @api.constrains("priority_class", "pinned")
    def _check_root_untouched(self):
        for channel in self:
            if not channel.parent_id and channel.priority_class:
                raise UserError(
                    _("The root channel has no class: give classes to its children.")
                )

    def action_release_leases(self):
        self.ensure_one()
        self.env["peak.queue.lease"].release(
            self.complete_name,
            holder=None,
            reason=_("released by %s", self.env.user.name),
        )
