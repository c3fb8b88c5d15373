# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import models, tools

from .peak_queue_function_rule import CLASS_CHANNELS
from .queue_job_channel import DEFAULT_CLASS


class QueueJobFunction(models.Model):
    _inherit = "queue.job.function"

    @tools.ormcache("name")
    def job_config(self, name):
        config = super().job_config(name)
        if config.job_function_id:
            return config  # an explicit function record wins, as in queue_job
        priority_class = self.env["peak.queue.function.rule"]._class_for(name)
        channel = CLASS_CHANNELS[priority_class or DEFAULT_CLASS]
        return config._replace(channel=channel)
