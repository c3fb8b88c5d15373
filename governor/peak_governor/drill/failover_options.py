"""The failover drill's options (:class:`FailoverOptions`): the components,
the operator's stop and start commands (``--stop NAME=CMD``, env
``PEAK_DRILL_STOP_<NAME>``), the targets, and the health probes built from
them (Odoo, governor, Redis, S3, PostgreSQL).
"""

import dataclasses
from dataclasses import dataclass

import psycopg

from .. import companions
from .common import DrillError

COMPONENTS = ("governor", "redis", "s3", "postgres")


@dataclass
class FailoverOptions:
    components: tuple
    stop: dict
    start: dict
    odoo_url: str = ""
    governor_url: str = ""
    dsn: str = ""
    detect_target_seconds: float = 15.0
    recover_target_seconds: float = 60.0
    outage_seconds: float = 3.0
    probe_timeout: float = 1.0
    timeout: float = 120.0
    environ: dict = dataclasses.field(default_factory=dict, repr=False)

    def redis(self):
        """Odoo's session store, as peak_session_redis reads it."""
        return companions.redis_config(self.environ, {})

    def s3(self):
        """Odoo's bucket, as peak_attachment_s3 reads it; None: none set."""
        if not self.environ.get("PEAK_S3_BUCKET"):
            return None
        return companions.s3_config(self.environ, {})

    def validate(self) -> "FailoverOptions":
        # Bad S3/Redis settings are refused up front, probed or not.
        self.redis()
        self.s3()
        if not self.components:
            raise DrillError("give at least one --component")
        for name in self.components:
            if name not in COMPONENTS:
                raise DrillError(
                    f"unknown component {name!r} ({', '.join(COMPONENTS)})"
                )
            if not self.stop.get(name) or not self.start.get(name):
                raise DrillError(
                    f"{name}: give --stop {name}=CMD and --start {name}=CMD"
                )
            probe_missing = {
                "governor": lambda: not self.governor_url,
                "redis": lambda: not self.redis().enabled,
                "s3": lambda: not self.s3(),
                "postgres": lambda: not self.dsn,
            }[name]()
            if probe_missing:
                raise DrillError(
                    f"{name}: nothing to probe it with (--governor-url, "
                    "PEAK_REDIS_URL or _SENTINELS, PEAK_S3_BUCKET or --dsn)"
                )
        for name in ("detect_target_seconds", "recover_target_seconds", "timeout"):
            if getattr(self, name) <= 0:
                raise DrillError(f"{name.replace('_', '-')} must be > 0")
        return self


def _http_ok(url: str, timeout: float) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _probes(opts: FailoverOptions) -> dict:
    """name -> callable returning True when healthy, bounded by probe_timeout."""
    timeout = opts.probe_timeout
    probes = {}
    if opts.odoo_url:
        url = opts.odoo_url.rstrip("/") + "/web/health"
        probes["odoo"] = lambda: _http_ok(url, timeout)
    if opts.governor_url:
        ready = opts.governor_url.rstrip("/") + "/readyz"
        probes["governor"] = lambda: _http_ok(ready, timeout)
    store = opts.redis()
    if store.enabled:

        def redis_ok():
            try:
                return companions.redis_ping(store, timeout)
            except Exception:  # any failure means down
                return False

        probes["redis"] = redis_ok
    bucket = opts.s3()
    if bucket is not None:

        def s3_ok():
            try:
                client = companions.s3_client(bucket, opts.environ, timeout)
                client.head_bucket(Bucket=bucket.bucket)
                return True
            except Exception:  # any failure means down
                return False

        probes["s3"] = s3_ok
    if opts.dsn:

        def postgres_ok():
            try:
                with psycopg.connect(
                    opts.dsn, connect_timeout=max(1, int(timeout)), autocommit=True
                ) as conn:
                    conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                return False

        probes["postgres"] = postgres_ok
    return probes


def _pairs(values, environ, prefix) -> dict:
    """NAME=CMD flags, else env PEAK_DRILL_<PREFIX>_<NAME>."""
    out = {
        name: environ[f"PEAK_DRILL_{prefix}_{name.upper()}"]
        for name in COMPONENTS
        if environ.get(f"PEAK_DRILL_{prefix}_{name.upper()}")
    }
    for value in values or ():
        name, sep, command = value.partition("=")
        if not sep or not command.strip():
            raise DrillError(f"--{prefix.lower()} {value!r}: expected NAME=COMMAND")
        out[name.strip()] = command
    return out


# (flag, env suffix, field, type)
FAILOVER_OPTIONS = [
    ("--odoo-url", "ODOO_URL", "odoo_url", str),
    ("--governor-url", "GOVERNOR_URL", "governor_url", str),
    ("--dsn", "DSN", "dsn", str),
    (
        "--detect-target-seconds",
        "DETECT_TARGET_SECONDS",
        "detect_target_seconds",
        float,
    ),
    (
        "--recover-target-seconds",
        "RECOVER_TARGET_SECONDS",
        "recover_target_seconds",
        float,
    ),
    ("--outage-seconds", "OUTAGE_SECONDS", "outage_seconds", float),
    ("--probe-timeout", "PROBE_TIMEOUT", "probe_timeout", float),
    ("--timeout", "TIMEOUT", "timeout", float),
]
