"""The companion services, when their addon is installed: the S3 bucket of
peak_attachment_s3 and the Redis session store of peak_session_redis, read
with the addons' own settings code (:mod:`peak_governor.companions`) and
probed for latency; the ``/metrics`` endpoint of peak_metrics refuses
anonymous scrapes and accepts the token.
"""

import time
import urllib.error
import urllib.request

from peak_settings import SettingError
from peak_settings import metrics as metrics_settings

from .. import companions
from .config import DoctorConfig
from .report import FAIL, PASS, SKIP, WARN, Finding


def check_s3(cfg: DoctorConfig) -> list[Finding]:
    """Odoo's bucket, from Odoo's own settings code: env PEAK_S3_* >
    [peak_attachment_s3] > defaults (no endpoint: plain AWS S3)."""
    name = "S3 attachments"
    try:
        s3 = companions.s3_config(cfg.environ, cfg.sections)
    except SettingError as exc:
        return [
            Finding(
                name,
                FAIL,
                f"peak_attachment_s3 is installed but its settings are refused: {exc}",
                cfg.advice(
                    "run the doctor with the same PEAK_S3_* environment and "
                    "--odoo-config as Odoo",
                    "fix PEAK_S3_* in Odoo's environment or [peak_attachment_s3] in "
                    "its configuration file (the deployment), then restart Odoo",
                ),
            )
        ]
    if s3.enabled is False:
        return [Finding(name, SKIP, "turned off (PEAK_S3_ENABLED)")]
    where = companions.s3_where(s3)
    try:
        client = companions.s3_client(s3, cfg.environ, cfg.probe_timeout)
        started = time.monotonic()
        client.head_bucket(Bucket=s3.bucket)
        ms = (time.monotonic() - started) * 1000
    except Exception as exc:  # any failure is the finding
        return [
            Finding(
                name,
                FAIL,
                f"bucket {s3.bucket} at {where} unreachable: {type(exc).__name__}: "
                f"{str(exc)[:200]}",
                "check the S3 endpoint, credentials and bucket (PEAK_S3_*, AWS_*)",
            )
        ]
    status = WARN if ms > 200 else PASS
    return [
        Finding(
            name,
            status,
            f"bucket {s3.bucket} answers in {ms:.0f} ms ({where})",
            "S3 latency over 200 ms slows every label print" if status == WARN else "",
        )
    ]


def check_redis(cfg: DoctorConfig) -> list[Finding]:
    """Odoo's session store, from Odoo's own settings code: PEAK_REDIS_URL or
    the Sentinels (PEAK_REDIS_SENTINELS), env > [peak_session_redis]."""
    name = "session store"
    fix = cfg.advice(
        "run the doctor with the same PEAK_REDIS_* environment and --odoo-config",
        "fix PEAK_REDIS_* in Odoo's environment or [peak_session_redis] in its "
        "configuration file (the deployment), then restart Odoo",
    )
    try:
        store = companions.redis_config(cfg.environ, cfg.sections)
    except SettingError as exc:
        return [Finding(name, FAIL, f"settings refused: {exc}", fix)]
    if not store.enabled:
        return [
            Finding(
                name,
                FAIL,
                "peak_session_redis is installed but neither PEAK_REDIS_URL nor "
                "PEAK_REDIS_SENTINELS is set for the doctor (sessions stay on the "
                "filesystem)",
                fix,
            )
        ]
    findings = [_key_secret_finding(store)]
    try:
        started = time.monotonic()
        companions.redis_ping(store, cfg.probe_timeout)
        ms = (time.monotonic() - started) * 1000
    except Exception as exc:  # any failure is the finding
        return [
            Finding(
                name,
                FAIL,
                f"Redis unreachable at {store.target}: {type(exc).__name__}: "
                f"{str(exc)[:200]}",
                "check Redis and PEAK_REDIS_URL / PEAK_REDIS_SENTINELS",
            ),
            *findings,
        ]
    status = WARN if ms > 50 else PASS
    return [
        Finding(
            name,
            status,
            f"Redis answers PING in {ms:.1f} ms ({store.target})",
            "Redis latency over 50 ms slows every request" if status == WARN else "",
        ),
        *findings,
    ]


def _key_secret_finding(store) -> Finding:
    name = "session key secret"
    if store.key_secret:
        return Finding(name, PASS, "PEAK_REDIS_KEY_SECRET is set")
    return Finding(
        name,
        WARN,
        "PEAK_REDIS_KEY_SECRET is not set: each Odoo host hashes session keys "
        "with a secret it generated in its data_dir, so a host that did not "
        "create a session cannot find it",
        "fine for one host; with several, give them all the same "
        "PEAK_REDIS_KEY_SECRET (openssl rand -hex 32)",
    )


def check_metrics_protected(cfg: DoctorConfig) -> list[Finding]:
    name = "/metrics protected"
    if not cfg.odoo_url:
        return [
            Finding(
                name,
                SKIP,
                cfg.advice(
                    "not checked: give --odoo-url",
                    "not probed from inside Odoo: Settings > Peak Operations > "
                    "Monitoring shows whether the token is set",
                ),
            )
        ]
    url = cfg.odoo_url.rstrip("/") + "/metrics"
    try:
        with urllib.request.urlopen(url, timeout=cfg.probe_timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        return [Finding(name, FAIL, f"{url} unreachable: {exc}", "check Odoo")]
    if status in (401, 403):
        findings = [Finding(name, PASS, f"{url} refuses anonymous scrapes ({status})")]
    else:
        return [
            Finding(
                name,
                FAIL,
                f"{url} answered {status} without a token",
                "set PEAK_METRICS_TOKEN for Odoo and the scraper",
            )
        ]
    try:
        token = metrics_settings.load(
            cfg.environ, cfg.sections.get(metrics_settings.SECTION)
        ).token
    except SettingError as exc:
        findings.append(Finding("/metrics scrape", FAIL, str(exc), "fix the setting"))
        token = ""
    if token:
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=cfg.probe_timeout):
                pass
        except (urllib.error.HTTPError, OSError) as exc:
            findings.append(
                Finding(
                    "/metrics scrape",
                    FAIL,
                    f"the token is refused: {exc}",
                    "PEAK_METRICS_TOKEN differs between Odoo and the doctor",
                )
            )
    return findings
