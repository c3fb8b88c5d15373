# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import api, models
from odoo.tools import index_exists

from ..lib import collector

OPEN_JOBS_INDEX = "peak_metrics_queue_job_open_idx"


class QueueJob(models.Model):
    _inherit = "queue.job"

    def init(self):
        # /metrics counts open jobs by channel and state and finds the oldest
        # waiting one on every collection. Finished jobs are nearly all rows
        # (queue_job keeps them 30 days): a partial index on the open ones
        # lets that aggregate read only them (index-only scan), whatever the
        # number of done jobs. Measured in bench/metrics_scrape.py.
        if not index_exists(self.env.cr, OPEN_JOBS_INDEX):
            self.env.cr.execute(
                f"CREATE INDEX {OPEN_JOBS_INDEX} ON queue_job "
                "(channel, state, date_created, eta) WHERE state IN %s",
                (collector.OPEN_JOB_STATES,),
            )


class QueueJobChannel(models.Model):
    _inherit = "queue.job.channel"

    @api.model
    def _peak_metrics_class_of(self, channel_name: str) -> str:
        """The priority class of a job's channel (closest existing ancestor)."""
        self.env.cr.execute(
            "SELECT id, complete_name, parent_id, priority_class FROM queue_job_channel"
        )
        classes = collector.channel_classes(self.env.cr.fetchall())
        return collector.class_of(channel_name, classes)
