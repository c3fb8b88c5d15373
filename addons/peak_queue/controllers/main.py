# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Tag the PostgreSQL session of every queue job run (see docs/attribution.md).

queue_job's jobrunner runs a job by calling ``/queue_job/runjob``; the
controller acquires the job, then ``_try_perform_job`` performs it.  While it
does, ``application_name`` says ``pk1|job|<class>|<uuid>|<channel>``; the
previous value is put back afterwards.  The request itself is deliberately
left untagged by ``ir.http`` (see models/ir_http.py): acquiring and locking
the job row is queue bookkeeping, not interactive work.

A critical or operational job that loses its transaction to a concurrent
one (queue_job postpones it) is counted as a conflict of its class
(lib/conflicts.py), as a request is.

A background or bulk job preempted by the governor runs again later: its
statement cancelled (QueryCanceled), or its session terminated while idle in
its transaction (contract v4, lib/preemption.py).  The terminated run's
cursor is dead: it is put back pending from a fresh cursor, once, and the
request ends without touching the dead one (Odoo's pool drops it at its next
borrow).
"""

import logging
from contextlib import contextmanager

from psycopg2 import errors as pg_errors

from odoo.addons.queue_job.controllers import main as queue_job_main
from odoo.addons.queue_job.exception import RetryableJobError

from ..lib import attribution, conflicts, preemption

_logger = logging.getLogger(__name__)

#: A preempted job runs again this long after, when its channel is not leased.
PREEMPT_RETRY_SECONDS = 5
#: PostgreSQL's message for pg_cancel_backend(); a statement_timeout or a
#: lock_timeout says something else and fails the job as before.
CANCELED_BY_REQUEST = "canceling statement due to user request"


def preempted(exc) -> bool:
    """Whether ``exc`` is the cancel of a running statement by
    pg_cancel_backend (the governor's ``peak_queue_job_preempt``)."""
    return isinstance(exc, pg_errors.QueryCanceled) and CANCELED_BY_REQUEST in str(
        getattr(exc.diag, "message_primary", None) or exc
    )


def _priority_class(env, channel):
    """Class of ``channel`` from the channel records when ``peak_queue``'s
    channel model provides ``_peak_class_of``, from its name otherwise."""
    channels = env["queue.job.channel"].sudo()
    class_of = getattr(channels, "_peak_class_of", None)
    if callable(class_of):
        return class_of(channel)
    return attribution.class_from_channel_name(channel)


def job_class(env, job):
    """The priority class ``job`` runs as: its channel's, the documented
    default when that is unknown."""
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
    return priority_class


def job_tag(job, priority_class):
    """The ``pk1|job|...`` tag of ``job``, ``None`` if it cannot be built."""
    try:
        return attribution.format_job_tag(
            priority_class, job.uuid, job.channel or "root"
        )
    except ValueError as exc:
        # Attribution must never cost a job its run.
        _logger.warning("job %s runs untagged: %s", job.uuid, exc)
        return None


def _remember_session(job, cr):
    """Note the session tagged as ``job``: the one the governor may preempt."""
    connection = getattr(cr, "_cnx", None)
    if connection is not None:
        job._peak_sessions.append((connection, connection.get_backend_pid()))


class PeakRunJobController(queue_job_main.RunJobController):
    @classmethod
    def _try_perform_job(cls, env, job):
        job._peak_sessions = []  # (connection, pid) of the sessions tagged
        try:
            return cls._peak_perform_tagged(env, job)
        except pg_errors.QueryCanceled as exc:
            # Preempted: the transaction rolled back, nothing of the job was
            # kept; run it again. Not counted against max_retries: the job
            # did nothing wrong, and the contract preempts a job at most once
            # an hour.
            if not preempted(exc):
                raise
            job.retry -= 1  # perform() counted this run
            _logger.warning(
                "job %s preempted (its statement was cancelled to free locks "
                "protected work waited on); retried in %s s",
                job.uuid,
                PREEMPT_RETRY_SECONDS,
            )
            raise RetryableJobError(
                "preempted by peak-governor: rolled back, retried",
                seconds=PREEMPT_RETRY_SECONDS,
            ) from exc
        except Exception as exc:
            # Maybe its session was terminated by the governor (idle in its
            # transaction): only the contract's event can tell.
            pid = preemption.dead_backend(job._peak_sessions)
            if (
                not preemption.lost_connection(exc)
                or pid is None
                or not cls._peak_requeue_terminated(env, job, pid)
            ):
                raise

    @classmethod
    def _peak_requeue_terminated(cls, env, job, pid) -> bool:
        """Put a run whose session the governor terminated back to pending,
        from a fresh cursor, without counting the run against max_retries;
        False (queue_job fails the job as before) when it was not the
        governor."""
        stored_retry = job.retry - 1  # perform() counted this run in memory only
        job.env.clear()  # nothing of the dead transaction is flushed again
        with job.in_temporary_env():
            cr = job.env.cr
            event = preemption.terminating_event(cr, job.uuid, pid, job.date_started)
            if event is None:
                return False
            if not preemption.lock_run(cr, job.uuid, stored_retry):
                # The jobrunner's dead-job requeuer took it back first: that
                # is the one retry, nothing more to write.
                _logger.warning(
                    "job %s preempted (backend %s terminated, event %s): "
                    "already requeued by the jobrunner",
                    job.uuid,
                    pid,
                    event,
                )
            else:
                job.retry = stored_retry  # a preempted run is not counted
                job.postpone(
                    result="preempted by peak-governor (its session, idle in its "
                    "transaction, was terminated): rolled back, retried",
                    seconds=PREEMPT_RETRY_SECONDS,
                )
                job.set_pending(reset_retry=False)
                job.store()
                _logger.warning(
                    "job %s preempted (backend %s, idle in its transaction, "
                    "terminated to free locks protected work waited on; event "
                    "%s); retried in %s s",
                    job.uuid,
                    pid,
                    event,
                    PREEMPT_RETRY_SECONDS,
                )
        job._peak_requeued = True
        # The request's cursor may be the dead one: leave nothing for Odoo to
        # flush or commit on it (a live one, of an allow_commit job, has only
        # the job lock to give up).
        if attribution.cursor_usable(env.cr):
            env.cr.rollback()
        else:
            env.cr.clear()
        return True

    @classmethod
    def _enqueue_dependent_jobs(cls, env, job):
        if getattr(job, "_peak_requeued", False):
            return  # not done, and its cursor may be dead
        return super()._enqueue_dependent_jobs(env, job)

    @classmethod
    def _peak_perform_tagged(cls, env, job):
        priority_class = job_class(env, job)
        with conflicts.counted(env.cr, priority_class):
            tag = job_tag(job, priority_class)
            if tag is None:
                return super()._try_perform_job(env, job)
            with cls._peak_tag_temporary_cursors(job, tag):
                with attribution.tagged_session(env.cr, tag):
                    _remember_session(job, env.cr)
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
                _remember_session(job, job.env.cr)
                yield

        job.in_temporary_env = in_tagged_temporary_env
        try:
            yield
        finally:
            del job.in_temporary_env
