"""``peak-governor doctor``'s change governance checks (access grants past
their end, the change freeze of the next peak period) on the test database of
`make test` with peak_governance installed, inside a transaction that is
rolled back."""

from datetime import UTC, datetime, timedelta

import pytest
from pg import connect, needs_db

from peak_governor import doctor
from peak_governor.doctor import PASS, SKIP, WARN, DoctorConfig

NOW = datetime.now(UTC).replace(microsecond=0, tzinfo=None)


@pytest.fixture
def cur():
    """A cursor on the test database whose changes are rolled back."""
    conn = connect("peak-test-doctor-governance", autocommit=False)
    try:
        with conn.cursor() as cursor:
            if "peak_governance" not in doctor.installed_modules(cursor):
                pytest.skip("peak_governance is not in the test database")
            yield cursor
    finally:
        conn.rollback()
        conn.close()


def _users(cur, count=2):
    """Existing users (id, login), by login: grants only point at them."""
    cur.execute("SELECT id, login FROM res_users ORDER BY login LIMIT %s", (count,))
    return cur.fetchall()


def _grant(cur, user_id, hours_to_end, state="active"):
    end = None if hours_to_end is None else NOW + timedelta(hours=hours_to_end)
    cur.execute(
        "INSERT INTO peak_access_grant (user_id, requester_id, approver_id, "
        "date_start, date_end, state, end_action, reason, create_date) "
        "VALUES (%s, 1, 1, %s, %s, %s, 'remove_groups', 'doctor test', now())",
        (user_id, NOW - timedelta(days=3), end, state),
    )


@needs_db
def test_access_grants_past_their_end_warn(cur):
    cur.execute("UPDATE peak_access_grant SET state = 'ended' WHERE state = 'active'")
    (late, late_login), (seasonal, seasonal_login) = _users(cur)
    _grant(cur, seasonal, 5)
    _grant(cur, late, -30, state="ended")  # ended properly: not a finding
    (finding,) = doctor.check_access_grants(cur, DoctorConfig())
    assert (finding.status, finding.message) == (
        PASS,
        "1 active grant(s), none past its end or without one",
    )

    _grant(cur, late, -2)  # the cron did not run since
    (finding,) = doctor.check_access_grants(cur, DoctorConfig())
    ended = (NOW - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    assert finding.status == WARN, finding
    assert finding.message == (
        f"1 grant(s) still active past their end (the oldest ended {ended} UTC): "
        f"{late_login} keep(s) groups granted for a bounded time"
    )
    assert "cron" in finding.fix and "Scheduled Actions" not in finding.fix
    inside = doctor.check_access_grants(cur, DoctorConfig(inside_odoo=True))[0]
    assert "Settings > Technical > Scheduled Actions" in inside.fix
    # Ending exactly now is past the end (the end is exclusive).
    _grant(cur, seasonal, 0)
    assert doctor.check_access_grants(cur, DoctorConfig(), now=NOW.replace(tzinfo=UTC))[
        0
    ].message.startswith("2 grant(s) still active")

    # date_end is NOT NULL; a database edited by hand is still reported.
    cur.execute("ALTER TABLE peak_access_grant ALTER COLUMN date_end DROP NOT NULL")
    _grant(cur, seasonal, None)
    (finding,) = doctor.check_access_grants(cur, DoctorConfig())
    assert finding.status == WARN
    assert (
        f" and 1 grant(s) without an end: {late_login}, {seasonal_login} keep"
        in finding.message
    )


@needs_db
def test_access_grants_skipped_without_their_table(cur):
    cur.execute("DROP TABLE IF EXISTS peak_access_grant CASCADE")
    (finding,) = doctor.check_access_grants(cur, DoctorConfig())
    assert finding.status == SKIP and "no access grants" in finding.message


def _period(cur, name, start_days, end_days, freeze=True):
    cur.execute(
        "INSERT INTO peak_period (name, active, date_start, date_end, "
        "change_freeze) VALUES (%s, true, %s, %s, %s) RETURNING id",
        (
            name,
            NOW + timedelta(days=start_days),
            NOW + timedelta(days=end_days),
            freeze,
        ),
    )
    return cur.fetchone()[0]


@needs_db
def test_change_freeze_of_the_next_peak_period(cur):
    def check(modules=None, **kw):
        modules = modules or doctor.installed_modules(cur)
        return doctor.check_freeze_ahead(cur, DoctorConfig(), modules, **kw)[0]

    cur.execute("UPDATE peak_period SET active = false")
    finding = check()
    assert (finding.status, finding.message) == (
        PASS,
        "no peak period now or in the next 7 days",
    )
    _period(cur, "Christmas", 10, 20)  # beyond the horizon
    _period(cur, "Old sale", -10, -3)  # over
    assert check().message == "no peak period now or in the next 7 days"

    black_friday = _period(cur, "Black Friday week", 3, 10)
    start = (NOW + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    finding = check()
    assert (finding.status, finding.message) == (
        PASS,
        f"“Black Friday week” starts {start} UTC: changes frozen",
    )
    # Without peak_governance nothing freezes changes.
    finding = check(modules={"base", "peak_base"})
    assert finding.status == WARN
    assert finding.message == (
        f"“Black Friday week” starts {start} UTC: modules can still be installed "
        "and upgraded during it (peak_governance is not installed)"
    )
    assert "install Peak Change Governance" in finding.fix
    # A week later, the period is on.
    later = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    assert "“Black Friday week” is on now" in check(now=later).message

    cur.execute(
        "UPDATE peak_period SET change_freeze = false WHERE id = %s", (black_friday,)
    )
    finding = check()
    assert finding.status == WARN
    assert finding.message == (
        f"“Black Friday week” starts {start} UTC: Freeze changes is off for it, "
        "modules can still be installed and upgraded during it"
    )
    assert "tick Freeze changes on the period" in finding.fix
    _period(cur, "Cyber Monday", 5, 6)
    finding = check()
    assert "Cyber Monday" not in finding.message, "it freezes changes"
    # An older peak_governance (no per-period flag) freezes every period.
    cur.execute("ALTER TABLE peak_period DROP COLUMN change_freeze")
    finding = check()
    assert (finding.status, finding.message) == (
        PASS,
        f"“Black Friday week” starts {start} UTC (and 1 more): changes frozen",
    )


@needs_db
def test_run_checks_reports_both(cur):
    cur.execute("UPDATE peak_period SET active = false")
    checks = {f.check: f for f in doctor.run_checks(cur, DoctorConfig())}
    assert checks["change freeze ahead"].status == PASS
    assert checks["access grants ended"].status in (PASS, WARN)
