"""Change governance (peak_governance): temporary access ends when it says,
and the next peak period freezes module changes.

* **access grants ended**: an access grant still ``active`` after its
  ``date_end`` means the user keeps groups the approver granted for a
  bounded time (Odoo's grants cron is late or failing); a grant without an
  end would never end (``date_end`` is NOT NULL, so this only guards a
  database edited by hand).
* **change freeze ahead**: a peak period current or starting within
  :data:`FREEZE_HORIZON` during which changes will not be frozen, because
  peak_governance is not installed or the period's *Freeze changes* is off.

Run as Odoo's role (the doctor's documented DSN): it owns these tables.
"""

from datetime import UTC, datetime, timedelta

from .db import _all, _one, _table_exists
from .report import PASS, SKIP, WARN, Finding

FREEZE_HORIZON = timedelta(days=7)
GRANTS = "access grants ended"
FREEZE = "change freeze ahead"
#: Users named in a message at most (the count says the rest).
NAMED = 5

_GRANTS_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE g.date_end IS NULL),
       count(*) FILTER (WHERE g.date_end <= %s),
       min(g.date_end) FILTER (WHERE g.date_end <= %s),
       count(DISTINCT g.user_id) FILTER (WHERE g.date_end IS NULL
                                            OR g.date_end <= %s)
  FROM peak_access_grant g
 WHERE g.state = 'active'
"""
_OVERDUE_SQL = """
SELECT DISTINCT u.login
  FROM peak_access_grant g JOIN res_users u ON u.id = g.user_id
 WHERE g.state = 'active' AND (g.date_end IS NULL OR g.date_end <= %s)
 ORDER BY u.login
 LIMIT %s
"""
_COLUMN_SQL = """
SELECT EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema()
                  AND table_name = 'peak_period' AND column_name = 'change_freeze')
"""


def _naive(now: datetime | None) -> datetime:
    """Now as the naive UTC Odoo's columns hold."""
    return (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)


def check_access_grants(cur, cfg, now=None) -> list[Finding]:
    now = _naive(now)
    if not _table_exists(cur, "peak_access_grant"):
        return [
            Finding(
                GRANTS,
                SKIP,
                "this peak_governance has no access grants (upgrade it to get them)",
            )
        ]
    active, endless, overdue, oldest, users = _one(cur, _GRANTS_SQL, (now,) * 3)
    if not (endless or overdue):
        return [
            Finding(
                GRANTS,
                PASS,
                f"{active} active grant(s), none past its end or without one",
            )
        ]
    logins = [row[0] for row in _all(cur, _OVERDUE_SQL, (now, NAMED))]
    who = ", ".join(logins) + (", …" if users > len(logins) else "")
    parts = []
    if overdue:
        parts.append(
            f"{overdue} grant(s) still active past their end (the oldest ended "
            f"{oldest:%Y-%m-%d %H:%M} UTC)"
        )
    if endless:
        parts.append(f"{endless} grant(s) without an end")
    return [
        Finding(
            GRANTS,
            WARN,
            f"{' and '.join(parts)}: {who} keep(s) groups granted for a bounded "
            "time",
            cfg.advice(
                "check that Odoo's cron runs (Peak Operations: start and end "
                "access grants, every 5 min) and its log; revoke the grants in "
                "Odoo if they must end now",
                "check Settings > Technical > Scheduled Actions (Peak "
                "Operations: start and end access grants) and Odoo's log; "
                "revoke the grants if they must end now",
            ),
        )
    ]


def check_freeze_ahead(cur, cfg, modules: set[str], now=None) -> list[Finding]:
    now = _naive(now)
    if not _table_exists(cur, "peak_period"):
        return [Finding(FREEZE, SKIP, "no peak calendar (peak_base not installed)")]
    governed = "peak_governance" in modules
    # Without the column, an installed peak_governance freezes every period.
    if not governed:
        frozen = "false"
    elif _one(cur, _COLUMN_SQL)[0]:
        frozen = "change_freeze"
    else:
        frozen = "true"
    rows = _all(
        cur,
        f"SELECT name, date_start, {frozen} FROM peak_period "  # no input in it
        "WHERE active AND date_end > %s AND date_start <= %s "
        "ORDER BY date_start, id",
        (now, now + FREEZE_HORIZON),
    )
    days = FREEZE_HORIZON.days
    if not rows:
        return [Finding(FREEZE, PASS, f"no peak period now or in the next {days} days")]

    def when(start) -> str:
        if start <= now:
            return "is on now"
        return f"starts {start:%Y-%m-%d %H:%M} UTC"

    open_ = [(name, start) for name, start, is_frozen in rows if not is_frozen]
    if not open_:
        name, start = rows[0][0], rows[0][1]
        more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
        return [Finding(FREEZE, PASS, f"“{name}” {when(start)}{more}: changes frozen")]
    listed = "; ".join(f"“{name}” {when(start)}" for name, start in open_)
    if not governed:
        return [
            Finding(
                FREEZE,
                WARN,
                f"{listed}: modules can still be installed and upgraded during it "
                "(peak_governance is not installed)",
                "install Peak Change Governance (peak_governance) and load it "
                "server-wide in the upgrade job, or accept the risk in writing",
            )
        ]
    return [
        Finding(
            FREEZE,
            WARN,
            f"{listed}: Freeze changes is off for it, modules can still be "
            "installed and upgraded during it",
            "tick Freeze changes on the period (Peak Operations > Configuration > "
            "Peak periods), or accept the risk in writing",
        )
    ]
