# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Tag the PostgreSQL session of every queue job run (see docs/attribution.md).

queue_job's jobrunner runs a job by calling ``/queue_job/runjob``; the
controller acquires the job, then ``_try_perform_job`` performs it.  While it
does, ``application_name`` says ``pk1|job|<class>|<uuid>|<channel>``; the
previous value is put back afterwards.  The request itself is deliberately
left untagged by ``ir.http`` (see models/ir_http.py): acquiring and locking
the job row is queue bookkeeping, not interactive work.
"""

import logging
from contextlib import contextmanager

from odoo.addons.queue_job.controllers import main as queue_job_main

from ..lib import attribution

_logger = logging.getLogger(__name__)


def _priority_class(env, channel):
    """Class of ``channel`` from the channel records when ``peak_queue``'s
    channel model provides ``_peak_class_of``, from its name otherwise."""
    channels = env["queue.job.channel"].sudo()
    class_of = getattr(channels, "_peak_class_of", None)
    if callable(class_of):
        return class_of(channel)
    return attribution.class_from_channel_name(channel)


def job_tag(env, job):
    """The ``pk1|job|...`` tag of ``job``, ``None`` if it cannot be built."""
    channel = job.channel or "root"
    priority_class = _priority_class(env, channel)
    if priority_class not in attribution.CLASSES:
        _logger.warning(
            "channel %s has unknown priority class %r, tagging job %s as %s",
            channel,
            priority_class,
            job.uuid,
            attribution.DEFAULT_CLASS,
        )
        priority_class = attribution.DEFAULT_CLASS
    try:
        return attribution.format_job_tag(priority_class, job.uuid, channel)
    except ValueError as exc:
        # Attribution must never cost a job its run.
        _logger.warning("job %s runs untagged: %s", job.uuid, exc)
        return None


class PeakRunJobController(queue_job_main.RunJobController):
    @classmethod
    def _try_perform_job(cls, env, job):
        tag = job_tag(env, job)
        if tag is None:
            return super()._try_perform_job(env, job)
        with cls._peak_tag_temporary_cursors(job, tag):
            with attribution.tagged_session(env.cr, tag):
                return super()._try_perform_job(env, job)

    @staticmethod
    @contextmanager
    def _peak_tag_temporary_cursors(job, tag):
        """Tag the cursor of an ``allow_commit`` job too.

        Such a job runs in ``job.in_temporary_env()``, on a cursor of its own
        (another PostgreSQL session): wrap that method *on this Job object
        only* so the new session carries the tag.  That cursor is closed at
        the end of the job and Odoo's pool resets a connection when it lends
        it again, so it needs no restore.
        """
        if not job.job_config.allow_commit:
            yield
            return
        original = job.in_temporary_env

        @contextmanager
        def in_tagged_temporary_env():
            with original():
                attribution.set_application_name(job.env.cr, tag)
                yield

        job.in_temporary_env = in_tagged_temporary_env
        try:
            yield
        finally:
            del job.in_temporary_env
