# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The process-level half of a scrape: every worker's metrics, summed.

With ``PROMETHEUS_MULTIPROC_DIR`` the per-pid files of every worker (living
or dead) are merged by prometheus_client's MultiProcessCollector; without it
the default registry of this process is served. Database-derived families
are rendered separately (``collector.py``) and appended: they come from one
collector, never summed over workers.
"""

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .collector import Families


def process_metrics() -> bytes:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def scrape_meta(db_up: bool, duration_s: float, cache_age_s: float) -> bytes:
    out = Families()
    for name, doc, value in (
        (
            "peak_metrics_db_up",
            "1 when the last database collection succeeded (0: timeout or error; "
            "process metrics are still served).",
            1.0 if db_up else 0.0,
        ),
        (
            "peak_metrics_db_collect_duration_seconds",
            "Time the last database collection took.",
            duration_s,
        ),
        (
            "peak_metrics_db_cache_age_seconds",
            "Age of the database metrics in this answer (cached up to the "
            "configured cache period).",
            cache_age_s,
        ),
    ):
        out.items.append(GaugeMetricFamily(name, doc, value=value))
    return out.render()
