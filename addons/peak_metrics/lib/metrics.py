# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Per-process metrics of peak_metrics, created once at import.

With ``PROMETHEUS_MULTIPROC_DIR`` set before Python starts (``make run``, the
images), prometheus_client writes every observation to a per-pid file of that
directory and ``/metrics`` sums the files of all workers, living or dead, so
counters survive worker recycling. Without it they live in this process's
default registry (threaded server, tests).
"""

from prometheus_client import Counter, Histogram

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

HTTP_REQUEST_DURATION = Histogram(
    "peak_http_request_duration_seconds",
    "Time Odoo spent serving an HTTP request, by route group and status class.",
    ["route_group", "status_class"],
    buckets=HTTP_BUCKETS,
)
WORKER_RECYCLES = Counter(
    "peak_worker_recycles_total",
    "Prefork workers that exited and were replaced (request or memory limit, "
    "timeout, crash), by worker kind.",
    ["kind"],
)
JOB_RUN_DURATION = Histogram(
    "peak_queue_job_run_duration_seconds",
    "Run time of queue_job jobs (date_started to date_done, or to the failure), "
    "observed by the worker that ran them, by channel, class and outcome.",
    ["channel", "priority_class", "outcome"],
    buckets=JOB_BUCKETS,
)
