"""queue_job and the governor: the jobrunner reads its channels from the
database (no server-wide channels string) with queue_job and peak_queue among
the server-wide modules; the channels are classified, not pinned or paused
by hand; a governor holds the leadership; the active leases are consistent;
peak_base has published the protected intervals (fulfillment windows) and
one is coming.
"""

import json
from datetime import UTC, datetime

from .config import DoctorConfig
from .db import _all, _one
from .report import FAIL, PASS, SKIP, WARN, Finding


def check_queue_mode(cur, cfg: DoctorConfig, modules: set[str]) -> list[Finding]:
    findings = []
    for module in ("queue_job", "peak_queue"):
        if module not in modules:
            findings.append(
                Finding(
                    f"module {module}",
                    FAIL,
                    "not installed",
                    f"install {module} (Apps), then restart Odoo",
                )
            )
    channels = cfg.environ.get("ODOO_QUEUE_JOB_CHANNELS", cfg.queue_job_channels)
    if channels is None:
        findings.append(
            Finding(
                "queue_job channel mode",
                SKIP,
                "unknown: give --odoo-config to check the jobrunner's channels",
            )
        )
    elif channels.strip():
        findings.append(
            Finding(
                "queue_job channel mode",
                FAIL,
                f"server-wide channels string {channels.strip()!r}: channel "
                "capacities and pauses from the database are ignored",
                "remove [queue_job] channels / ODOO_QUEUE_JOB_CHANNELS and set "
                "max_capacity; configure channels in Odoo",
            )
        )
    else:
        findings.append(
            Finding("queue_job channel mode", PASS, "channels read from the database")
        )
    if cfg.server_wide_modules is not None:
        wide = {m.strip() for m in cfg.server_wide_modules.split(",")}
        missing = [m for m in ("queue_job", "peak_queue") if m not in wide]
        if missing:
            findings.append(
                Finding(
                    "server_wide_modules",
                    FAIL,
                    f"missing {', '.join(missing)}: the jobrunner does not start "
                    "or ignores leases",
                    "server_wide_modules = base,web,queue_job,peak_queue",
                )
            )
        else:
            findings.append(
                Finding("server_wide_modules", PASS, "queue_job and peak_queue loaded")
            )
    return findings


CHANNELS_DOCTOR_SQL = """
WITH RECURSIVE chain(start_id, id, parent_id, priority_class) AS (
    SELECT id, id, parent_id, priority_class FROM queue_job_channel
    UNION ALL
    SELECT chain.start_id, c.id, c.parent_id, c.priority_class
      FROM queue_job_channel c JOIN chain ON c.id = chain.parent_id
)
SELECT ch.complete_name, ch.pinned, ch.paused,
       bool_or(chain.priority_class IS NOT NULL) AS classified
  FROM queue_job_channel ch JOIN chain ON chain.start_id = ch.id
 GROUP BY ch.id, ch.complete_name, ch.pinned, ch.paused
 ORDER BY ch.complete_name
"""


def check_channels(cur, cfg: DoctorConfig) -> list[Finding]:
    rows = _all(cur, CHANNELS_DOCTOR_SQL)
    findings = []
    # root without a class is Operational by design (the Channels list shows
    # it so); another channel that only inherits that default is worth a look.
    defaulted = [
        name for name, _p, _z, classified in rows if not classified and name != "root"
    ]
    root_default = any(name == "root" and not c for name, _p, _z, c in rows)
    pinned = [name for name, is_pinned, _z, _c in rows if is_pinned]
    paused = [name for name, _p, is_paused, _c in rows if is_paused]
    where = "Peak Operations > Job queue > Channels"
    if defaulted:
        findings.append(
            Finding(
                "channels classified",
                WARN,
                f"{', '.join(defaulted)}: Operational only by default (no class on "
                "them or above them), so never paused first",
                f"set a class (Bulk for imports and exports) in {where}",
            )
        )
    else:
        findings.append(
            Finding(
                "channels classified",
                PASS,
                f"all {len(rows)} channels"
                + (" (root: Operational, the default)" if root_default else ""),
            )
        )
    if pinned:
        findings.append(
            Finding(
                "channel pins",
                WARN,
                f"pinned (never paused): {', '.join(pinned)}",
                f"untick Never pause in {where} unless an urgent import needs it",
            )
        )
    else:
        findings.append(Finding("channel pins", PASS, "no channel pinned"))
    if paused:
        findings.append(
            Finding(
                "channel manual pause",
                WARN,
                f"paused by hand: {', '.join(paused)} (no job of it runs, ever)",
                f"resume the channel in {where}",
            )
        )
    else:
        findings.append(Finding("channel manual pause", PASS, "no channel paused"))
    return findings


def check_governor(cur, cfg: DoctorConfig) -> list[Finding]:
    row = _one(
        cur,
        "SELECT holder, level, EXTRACT(EPOCH FROM expires_at - "
        "(now() AT TIME ZONE 'utc'))::float8 FROM peak_queue_governor_leader",
    )
    if row is None or row[2] <= 0:
        return [
            Finding(
                "governor leader",
                FAIL,
                "no governor holds the leadership (none running, or it lost "
                "the database)" + (f"; last holder {row[0]}" if row else ""),
                "start peak-governor (make run, the governor Deployment) and check "
                "`peak-governor status` and its log",
            )
        ]
    return [
        Finding(
            "governor leader",
            PASS,
            f"{row[0]} (level {row[1] or 'unknown'}, {row[2]:.0f}s left)",
        )
    ]


def check_leases(cur, cfg: DoctorConfig) -> list[Finding]:
    rows = _all(
        cur,
        """
        SELECT c.complete_name, c.pinned, peak_queue_channel_class(c.id),
               EXTRACT(EPOCH FROM l.expires_at - (now() AT TIME ZONE 'utc'))::float8,
               peak_queue_max_ttl()
          FROM peak_queue_lease l JOIN queue_job_channel c ON c.id = l.channel_id
         WHERE l.state = 'active'
        """,
    )
    bad, stale = [], []
    for channel, pinned, klass, remaining, max_ttl in rows:
        if remaining <= 0:
            stale.append(channel)
        elif pinned or klass == "critical":
            bad.append(f"{channel} is {'pinned' if pinned else 'critical'} but leased")
        elif remaining > max_ttl + 5:
            bad.append(f"{channel} leased for {remaining:.0f}s > max {max_ttl}s")
    findings = []
    if bad:
        findings.append(
            Finding(
                "leases consistent",
                FAIL,
                "; ".join(bad),
                "release the lease in Peak Operations > Job queue > Channels and "
                "check who wrote it (Governor activity)",
            )
        )
    elif stale:
        findings.append(
            Finding(
                "leases consistent",
                WARN,
                f"expired but still marked active: {', '.join(stale)} (nobody "
                "ran peak_queue_lease_expire(): is the governor running?)",
                "start the governor; it expires them on its next cycle",
            )
        )
    else:
        findings.append(
            Finding("leases consistent", PASS, f"{len(rows)} active lease(s)")
        )
    return findings


def check_protected_interval(cur, cfg: DoctorConfig, now=None) -> list[Finding]:
    now = now or datetime.now(UTC)
    row = _one(
        cur,
        "SELECT value FROM ir_config_parameter "
        "WHERE key = 'peak_base.protected_intervals'",
    )
    fix = (
        "check that Odoo's cron runs (peak_base publishes this hourly) and that "
        "fulfillment windows exist in Peak Operations > Configuration"
    )
    name = "next protected interval"
    if row is None:
        return [Finding(name, FAIL, "never published by peak_base", fix)]
    try:
        document = json.loads(row[0])
        valid_until = _parse_iso(document["valid_until"])
        intervals = [(_parse_iso(a), _parse_iso(b)) for a, b in document["intervals"]]
    except (ValueError, KeyError, TypeError) as exc:
        return [Finding(name, FAIL, f"unreadable document: {exc}", fix)]
    if valid_until <= now:
        return [
            Finding(
                name,
                FAIL,
                f"stale: valid until {valid_until:%Y-%m-%d %H:%M} UTC",
                fix,
            )
        ]
    current = [(a, b) for a, b in intervals if a <= now < b]
    if current:
        return [
            Finding(
                name, PASS, f"protected now, until {current[0][1]:%Y-%m-%d %H:%M} UTC"
            )
        ]
    upcoming = sorted(a for a, b in intervals if a > now)
    if upcoming:
        return [Finding(name, PASS, f"next at {upcoming[0]:%Y-%m-%d %H:%M} UTC")]
    hours = (valid_until - now).total_seconds() / 3600
    return [
        Finding(
            name,
            WARN,
            f"none in the next {hours:.0f} h: the governor protects no "
            "fulfillment window",
            "add fulfillment windows, or switch Peak mode on "
            "(Settings > Peak Operations)",
        )
    ]


def _parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
