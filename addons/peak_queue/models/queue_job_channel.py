# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, api, fields, models, tools
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
        "Class",
        help="Critical > Operational > Background > Bulk. Empty: inherited from "
        "the parent channel (root: Operational). The governor pauses bulk first "
        "and never pauses critical channels.",
    )
    effective_class = fields.Selection(
        PRIORITY_CLASSES,
        compute="_compute_effective_class",
        recursive=True,
        string="Class in force",
        help="The channel's class, else its closest parent's, else Operational.",
    )
    pinned = fields.Boolean(
        "Never pause",
        help="The governor never pauses this channel, nor the channels above it "
        "(pausing those would stop it too), e.g. during an urgent import.",
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
        # Counts only: jobs themselves (arguments, tracebacks) are for queue
        # managers (queue_job's group), not every Peak user.
        counts = {
            (channel, state): count
            for channel, state, count in self.env["queue.job"]
            .sudo()
            ._read_group(
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
        closest known ancestor (queue_job does the same when routing jobs).

        Runs at every job start: cached per worker by name, one query on a
        miss; any change to a channel clears the cache of every worker."""
        return self._peak_class_by_name(channel_name or "root")

    @api.model
    @tools.ormcache("channel_name")
    def _peak_class_by_name(self, channel_name: str) -> str:
        parts = channel_name.split(".")
        candidates = [".".join(parts[:end]) for end in range(len(parts), 0, -1)]
        self.flush_model(["complete_name", "priority_class", "parent_id"])
        # peak_queue_channel_class() is the contract's own rule, the one the
        # lease function applies: the job's tag and the lease agree.
        self.env.cr.execute(
            "SELECT peak_queue_channel_class(id) FROM queue_job_channel "
            "WHERE complete_name = ANY(%s) "
            "ORDER BY length(complete_name) DESC LIMIT 1",
            [candidates],
        )
        row = self.env.cr.fetchone()
        return row[0] if row else DEFAULT_CLASS

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        if {"name", "parent_id", "priority_class"} & set(vals):
            self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

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
