# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Peak-window housekeeping: defer Odoo's heavy clean-ups out of fulfillment.

Three daily clean-ups hurt when they fire in the middle of a fulfillment wave:

* ``ir.attachment._gc_file_store`` commits, then takes ``LOCK ir_attachment IN
  SHARE MODE``: every attachment write (labels, delivery slips, chatter files)
  waits behind it while it walks the filestore (odoo/odoo#82944);
* ``ir.http._gc_sessions`` walks the whole session directory;
* queue_job's ``queue.job.autovacuum`` deletes done jobs by the thousand.

While fulfillment is protected (Peak mode on *and* a fulfillment window open,
see ``peak.mode.get_status``) each of them returns at once, logs one line and
leaves a mark: the system parameter ``peak_queue.deferred.<task>`` holding the
UTC time it was first deferred.  The cron "Peak Queue: run deferred
housekeeping" (every 5 minutes) runs the marked tasks as soon as the window is
over.  Whenever a task really runs, from its own scheduler or from that cron,
it clears its mark.  The context key ``peak_force_housekeeping`` runs the tasks
even inside a window.

The overrides must repeat ``@api.autovacuum``: Odoo does not inherit that
marker, and ``ir.autovacuum`` would silently stop calling an override without
it.
"""

import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

PARAM_PREFIX = "peak_queue.deferred."
FORCE_KEY = "peak_force_housekeeping"

TASK_SESSIONS = "gc_sessions"
TASK_QUEUE_JOBS = "queue_job_autovacuum"
TASK_FILESTORE = "gc_file_store"

#: (task, model, method), in the order the cron runs them: cheapest first.
TASKS = (
    (TASK_SESSIONS, "ir.http", "_gc_sessions"),
    (TASK_QUEUE_JOBS, "queue.job", "autovacuum"),
    (TASK_FILESTORE, "ir.attachment", "_gc_file_store"),
)


class PeakQueueHousekeeping(models.AbstractModel):
    """Deferral bookkeeping for the heavy clean-ups, and the cron running them."""

    _name = "peak.queue.housekeeping"
    _description = "Peak Queue: deferred housekeeping"

    @api.model
    def _param_key(self, task: str) -> str:
        return PARAM_PREFIX + task

    @api.model
    def _deferred_since(self, task: str) -> str | bool:
        """UTC time (Odoo string) ``task`` was first deferred, or False."""
        params = self.env["ir.config_parameter"].sudo()
        return params.get_param(self._param_key(task), False)

    @api.model
    def _defer(self, task: str) -> bool:
        """Whether ``task`` must wait for the window to end; if so, mark it."""
        if self.env.context.get(FORCE_KEY):
            return False
        status = self.env["peak.mode"].sudo().get_status()
        if not status["fulfillment_protected"]:
            return False
        if not self._deferred_since(task):
            self.env["ir.config_parameter"].sudo().set_param(
                self._param_key(task), fields.Datetime.to_string(fields.Datetime.now())
            )
        _logger.info(
            "Peak mode: fulfillment window open until %s, deferring %s",
            status["window_end"],
            task,
        )
        return True

    @api.model
    def _done(self, task: str) -> None:
        if self._deferred_since(task):
            self.env["ir.config_parameter"].sudo().set_param(
                self._param_key(task), False
            )

    @api.model
    def _cron_run_deferred(self):
        """Run the deferred tasks once fulfillment is no longer protected.

        Each task checks the window again by itself; checking here first only
        spares a "deferring" log line per task and run while the window lasts.
        """
        pending = [
            (task, model, method)
            for task, model, method in TASKS
            if self._deferred_since(task)
        ]
        if not pending or (
            not self.env.context.get(FORCE_KEY)
            and self.env["peak.mode"].sudo().get_status()["fulfillment_protected"]
        ):
            return
        for task, model, method in pending:
            # As ir.autovacuum does: one failing task must not hold back the
            # others.  No savepoint: queue_job's purge and the filestore GC
            # commit the cursor themselves.  A rollback here re-marks the
            # tasks run before it in this transaction; they are idempotent.
            try:
                getattr(self.env[model], method)()
            except Exception:
                _logger.exception("Deferred housekeeping task %s failed", task)
                self.env.cr.rollback()


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    @api.autovacuum
    def _gc_file_store(self):
        housekeeping = self.env["peak.queue.housekeeping"]
        if housekeeping._defer(TASK_FILESTORE):
            return None
        result = super()._gc_file_store()
        # False: the lock was not granted and nothing was collected.
        if result is not False:
            housekeeping._done(TASK_FILESTORE)
        return result


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @api.autovacuum
    def _gc_sessions(self):
        housekeeping = self.env["peak.queue.housekeeping"]
        if housekeeping._defer(TASK_SESSIONS):
            return None
        result = super()._gc_sessions()
        housekeeping._done(TASK_SESSIONS)
        return result


class QueueJob(models.Model):
    _inherit = "queue.job"

    def autovacuum(self):
        housekeeping = self.env["peak.queue.housekeeping"]
        if housekeeping._defer(TASK_QUEUE_JOBS):
            return True
        result = super().autovacuum()
        housekeeping._done(TASK_QUEUE_JOBS)
        return result
