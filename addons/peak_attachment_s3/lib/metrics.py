# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Per-process S3 metrics (the contract peak_metrics exports).

Under prefork ``PROMETHEUS_MULTIPROC_DIR`` is set before Odoo starts, so these
objects write to the shared multiprocess directory; otherwise they live in the
process's default registry.
"""

from prometheus_client import Counter, Gauge, Histogram

OPERATIONS = ("put", "get", "head", "copy", "delete", "list", "presign")
REASONS = (
    "timeout",
    "connection",
    "denied",
    "not_found",
    "precondition",
    "corrupt",
    "unavailable",  # failing fast: S3 timed out or refused lately
    "other",
)

S3_OPERATION_DURATION = Histogram(
    "peak_s3_operation_duration_seconds",
    "Duration of S3 attachment store operations, retries included",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
S3_OPERATION_ERRORS = Counter(
    "peak_s3_operation_errors_total",
    "S3 attachment store operations that failed after their retries",
    ["operation", "reason"],
)
S3_DEGRADED = Gauge(
    "peak_s3_degraded",
    "1 while the S3 attachment store is unreachable from this process",
    multiprocess_mode="max",
)
S3_GC_REFUSALS = Counter(
    "peak_s3_gc_refusals_total",
    "GC runs that deleted nothing because this database does not own its prefix",
    ["reason"],  # ownership.REFUSALS
)
S3_GC_OBJECTS = Counter(
    "peak_s3_gc_objects_total",
    "Objects the GC moved to quarantine, purged from it after the retention, "
    "or brought back from it",
    ["action"],  # quarantined, purged, restored
)
S3_CACHE_LOOKUPS = Counter(
    "peak_s3_cache_lookups_total",
    "Reads of attachments through the local read cache, by result",
    ["result"],  # hit, miss, corrupt (a damaged entry, dropped and read again)
)
S3_CACHE_EVICTIONS = Counter(
    "peak_s3_cache_evictions_total",
    "Entries the local read cache evicted to stay within its size limit",
)
S3_CACHE_FILL_ERRORS = Counter(
    "peak_s3_cache_fill_errors_total",
    "Objects the local read cache could not keep (disk full or read-only, or "
    "too many fills waiting)",
)
S3_CACHE_BYTES = Gauge(
    "peak_s3_cache_bytes",
    "Size of the local read cache at its last sweep",
    multiprocess_mode="livemax",
)
