# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Server-wide hooks (``post_load``), installed once per process.

- the WSGI application: every request is timed into
  ``peak_http_request_duration_seconds`` (route group, status class);
- the prefork master: a worker that exits is marked dead for prometheus
  multiprocess mode and counted in ``peak_worker_recycles_total`` (unless the
  server is stopping);
- queue_job's job run: run time into ``peak_queue_job_run_duration_seconds``,
  observed where the job ran, so nothing is counted twice;
- the multiprocess directory is emptied when the main server process starts
  (the ``make run`` launcher empties it too): files of an earlier run would
  otherwise be summed into this one.
"""

import glob
import logging
import os
import time
from datetime import datetime

import odoo
from odoo.tools import config as odoo_config

from .lib import config as metrics_config
from .lib import metrics, routes

_logger = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_state = {"patched": False, "config": None}


def get_config(reload: bool = False) -> metrics_config.MetricsConfig:
    """Effective settings (env > [peak_metrics] > default), read once."""
    if reload or _state["config"] is None:
        section = odoo_config.misc.get("peak_metrics", {})
        try:
            _state["config"] = metrics_config.load(os.environ, section)
        except metrics_config.MetricsConfigError as exc:
            _state["config"] = exc  # every caller sees the same clear error
    if isinstance(_state["config"], metrics_config.MetricsConfigError):
        raise _state["config"]
    return _state["config"]


def multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def wipe_multiproc_dir(path: str) -> int:
    """Remove prometheus_client's per-process files; return how many."""
    removed = 0
    for name in glob.glob(os.path.join(path, "*.db")):
        try:
            os.unlink(name)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _is_main_server_process() -> bool:
    # The gevent (websocket) process is started by the prefork master with
    # the same post_load: it must not wipe files the workers already write.
    return not odoo.evented and not odoo_config.get("stop_after_init")


def _patch_wsgi():
    application = odoo.http.Application
    original_call = application.__call__

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status_seen = []

        def recording_start_response(status, headers, *exc_info):
            status_seen.append(status)
            return start_response(status, headers, *exc_info)

        try:
            return original_call(self, environ, recording_start_response)
        finally:
            try:
                metrics.HTTP_REQUEST_DURATION.labels(
                    routes.route_group(environ.get("PATH_INFO", "")),
                    routes.status_class(status_seen[-1] if status_seen else 500),
                ).observe(time.perf_counter() - started)
            except Exception:  # a metric must never break a request
                _logger.exception("peak_metrics: could not record a request")

    __call__._peak_metrics_original = original_call
    application.__call__ = __call__


def _patch_prefork():
    server = odoo.service.server.PreforkServer
    original_pop = server.worker_pop
    original_stop = server.stop

    def worker_pop(self, pid):
        kind = None
        if pid == self.long_polling_pid:
            kind = "gevent"
        elif pid in self.workers_http:
            kind = "http"
        elif pid in self.workers_cron:
            kind = "cron"
        result = original_pop(self, pid)
        if kind is not None:
            path = multiproc_dir()
            if path:
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(pid, path)
            if not getattr(self, "_peak_metrics_stopping", False):
                metrics.WORKER_RECYCLES.labels(kind).inc()
        return result

    def stop(self, graceful=True):
        self._peak_metrics_stopping = True
        return original_stop(self, graceful)

    server.worker_pop = worker_pop
    server.stop = stop


def _patch_queue_job():
    try:
        from odoo.addons.queue_job.controllers.main import RunJobController
    except ImportError:  # queue_job not in the addons path: nothing to time
        return
    from .lib.labels import bounded_channel

    original = RunJobController._runjob.__func__

    def _observe(job, outcome):
        started = job.date_started
        if not started:
            return
        # queue_job stamps both ends with datetime.now() (Odoo runs in UTC).
        ended = job.date_done or datetime.now()
        metrics.JOB_RUN_DURATION.labels(
            bounded_channel(job.channel or "root"),
            getattr(job, "_peak_metrics_class", "") or "unknown",
            outcome,
        ).observe(max(0.0, (ended - started).total_seconds()))

    def _runjob(cls, env, job):
        try:
            job._peak_metrics_class = env["queue.job.channel"]._peak_metrics_class_of(
                job.channel
            )
        except Exception:  # the class label is a nicety, never a failure
            job._peak_metrics_class = "unknown"
        try:
            original(cls, env, job)
        except Exception:
            _observe(job, "failed")
            raise
        if job.state == "done":
            _observe(job, "done")

    RunJobController._runjob = classmethod(_runjob)


def post_load():
    if _state["patched"]:
        return
    _state["patched"] = True
    path = multiproc_dir()
    if path and _is_main_server_process():
        os.makedirs(path, exist_ok=True)
        removed = wipe_multiproc_dir(path)
        _logger.info(
            "peak_metrics: multiprocess directory %s emptied (%d files)", path, removed
        )
    _patch_wsgi()
    _patch_prefork()
    _patch_queue_job()
    try:
        effective = get_config()
    except metrics_config.MetricsConfigError as exc:
        _logger.error("peak_metrics: invalid configuration: %s", exc)
        return
    _logger.info(
        "peak_metrics: effective configuration %s (multiprocess dir: %s)",
        effective.masked(),
        path or "unset, per-process registry",
    )
