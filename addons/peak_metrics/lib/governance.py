# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Change governance families, served only while ``peak_governance`` is
installed (peak_metrics does not depend on it: its tables are read with SQL
when ``ir_module_module`` says so, like the KPI apps).

Aggregates only, no label: a count of grants or exceptions, never one series
per user. Times are naive UTC, as Odoo stores them.
"""

from datetime import UTC, datetime, timedelta

MODULE = "peak_governance"
ENDING_SOON = timedelta(hours=24)
PARAM_SCOPE = "peak_governance.freeze_scope"

# One row: which of its tables and columns this database has (an older
# peak_governance has no grants, or periods that all freeze).
SCHEMA_SQL = """
    SELECT to_regclass('peak_access_grant') IS NOT NULL,
           to_regclass('peak_change_exception') IS NOT NULL,
           EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema()
                      AND table_name = 'peak_period'
                      AND column_name = 'change_freeze')
"""
GRANTS_SQL = """
    SELECT count(*),
           count(*) FILTER (WHERE date_end > %(now)s AND date_end <= %(soon)s),
           count(*) FILTER (WHERE date_end <= %(now)s)
      FROM peak_access_grant
     WHERE state = 'active'
"""
EXCEPTIONS_SQL = """
    SELECT count(*) FROM peak_change_exception
     WHERE state = 'approved' AND expires_at > %(now)s
"""
# Start inclusive, end exclusive: peak_base's rule (windows.period_at).
FROZEN_PERIOD_SQL = """
    SELECT EXISTS (SELECT 1 FROM peak_period
                    WHERE active AND {freezes}
                      AND date_start <= %(now)s AND date_end > %(now)s)
"""


def installed(cr) -> bool:
    cr.execute(
        "SELECT 1 FROM ir_module_module WHERE name = %s "
        "AND state IN ('installed', 'to upgrade')",
        (MODULE,),
    )
    return cr.fetchone() is not None


def naive_utc(now: datetime | None) -> datetime:
    """``now`` (aware, or naive UTC) as the naive UTC the columns hold."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def collect_governance(cr, out, now=None, peak_mode_on=False) -> bool:
    """Add the governance families to ``out`` (a collector ``Families``);
    nothing, and False, when peak_governance is not installed."""
    if not installed(cr):
        return False
    params = {"now": naive_utc(now)}
    params["soon"] = params["now"] + ENDING_SOON
    cr.execute(SCHEMA_SQL)
    has_grants, has_exceptions, has_flag = cr.fetchone()
    if has_grants:
        cr.execute(GRANTS_SQL, params)
        active, ending, overdue = cr.fetchone()
        for name, doc, value in (
            (
                "peak_access_grants_active",
                "Peak access grants in force now (state active).",
                active,
            ),
            (
                "peak_access_grants_ending_soon",
                "Active peak access grants whose end is within 24 h.",
                ending,
            ),
            (
                "peak_access_grants_overdue",
                "Active peak access grants past their end: their groups are "
                "still there (the grants cron is late or failing).",
                overdue,
            ),
        ):
            out.gauge(name, doc).add_metric([], float(value))
    if has_exceptions:
        cr.execute(EXCEPTIONS_SQL, params)
        out.gauge(
            "peak_change_exceptions_active",
            "Change freeze exceptions approved and not expired.",
        ).add_metric([], float(cr.fetchone()[0]))
    # Without the column (peak_governance before per-period freezes) every
    # period freezes changes, as that version does.
    cr.execute(
        FROZEN_PERIOD_SQL.format(freezes="change_freeze" if has_flag else "true"),
        params,
    )
    frozen = cr.fetchone()[0]
    cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (PARAM_SCOPE,))
    row = cr.fetchone()
    if row and row[0] == "peak_mode" and peak_mode_on:
        frozen = True
    out.gauge(
        "peak_change_freeze_active",
        "1 while module changes are frozen (a peak period that freezes changes, "
        "or Peak mode with the freeze scope 'peak_mode').",
    ).add_metric([], 1.0 if frozen else 0.0)
    return True
