# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Per-process session-store metrics (the contract peak_metrics exports).

With ``PROMETHEUS_MULTIPROC_DIR`` set before Odoo starts, these write to the
shared multiprocess directory; otherwise they live in the default registry.
"""

from prometheus_client import Counter, Gauge, Histogram

OPERATIONS = ("get", "save", "delete", "rotate", "vacuum", "revoke")
REASONS = ("timeout", "connection", "other")
FALLBACK_KINDS = (
    "filesystem_migrated",
    "raw_key_moved",  # a session of 18.0.1.0 (raw sid in Redis) moved
    "unavailable_503",
    "revoked_not_saved",
)

OPERATION_DURATION = Histogram(
    "peak_session_store_operation_duration_seconds",
    "Duration of one Redis session-store operation",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
ERRORS = Counter(
    "peak_session_store_errors_total",
    "Session-store operations that failed, by reason",
    ["operation", "reason"],
)
FALLBACKS = Counter(
    "peak_session_store_fallbacks_total",
    "Sessions moved from the filesystem store, and requests answered 503",
    ["kind"],
)
DEGRADED = Gauge(
    "peak_session_store_degraded",
    "1 while the Redis session store is unreachable",
    multiprocess_mode="max",
)
