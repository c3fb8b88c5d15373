"""The governor's SQL and tag parser against docs/db-contract.md."""

import re

import psycopg
import pytest
from contract_doc import load_contract
from pg import connect, job_tag, needs_db

from peak_governor import attribution, contract

CONTRACT = load_contract()
CALL = re.compile(r"\b(peak_queue_\w+)\((.*?)\)")


def _governor_statements():
    return {
        name: value
        for name, value in vars(contract).items()
        if name.endswith("_SQL") and isinstance(value, str)
    }


def test_versions_agree():
    assert contract.CONTRACT_VERSION == CONTRACT["version"]
    assert attribution.VERSION == CONTRACT["attribution"]
    assert contract.LEASE_NOTIFY_CHANNEL == CONTRACT["notify"]["lease"]


def test_every_function_the_governor_calls_is_in_the_contract():
    calls = [
        (name, args)
        for sql in _governor_statements().values()
        for name, args in CALL.findall(sql)
    ]
    assert calls, "the governor calls no contract function?"
    for name, args in calls:
        assert name in CONTRACT["functions"], f"{name} is not in the contract"
        expected = len(CONTRACT["functions"][name]["args"])
        given = len([a for a in args.split(",") if a.strip()])
        assert (
            given == expected
        ), f"{name} takes {expected} arguments, governor passes {given}"


@needs_db
def test_every_statement_of_the_governor_parses_against_the_database():
    """PREPARE checks tables, columns, functions and argument types of each
    statement in a database built by peak_queue, without running it."""
    with connect() as conn:
        for name, statement in _governor_statements().items():
            numbered = statement
            for index in range(1, statement.count("%s") + 1):
                numbered = numbered.replace("%s", f"${index}", 1)
            numbered = numbered.replace("%%", "%")
            try:
                conn.execute(f"PREPARE peak_check AS {numbered}", prepare=False)
            except psycopg.Error as exc:
                raise AssertionError(
                    f"{name} drifted from the database: {exc}"
                ) from exc
            conn.execute("DEALLOCATE peak_check")


# Every function the governor may call that reads more than it may (the
# conflict counters) or writes.
DEFINER_FUNCTIONS = (
    "peak_queue_conflicts",
    "peak_queue_lease_acquire",
    "peak_queue_lease_release",
    "peak_queue_lease_expire",
    "peak_queue_governor_heartbeat",
    "peak_queue_governor_resign",
    "peak_queue_job_preempt",
)


@needs_db
def test_write_functions_are_definer_owned_by_odoo_with_pinned_search_path():
    rows = (
        connect()
        .execute(
            "SELECT p.proname, p.prosecdef, p.proconfig, "
            "pg_get_userbyid(p.proowner) = (SELECT tableowner FROM pg_tables "
            "  WHERE tablename = 'peak_queue_lease'), "
            "has_function_privilege('public', p.oid, 'EXECUTE') "
            "FROM pg_proc p WHERE p.proname = ANY(%s)",
            (list(DEFINER_FUNCTIONS),),
        )
        .fetchall()
    )
    assert {row[0] for row in rows} == set(DEFINER_FUNCTIONS)
    for name, definer, proconfig, owned_by_odoo, public_execute in rows:
        assert definer, f"{name} is not SECURITY DEFINER"
        assert proconfig == ["search_path=public, pg_temp"], f"{name}: {proconfig}"
        assert owned_by_odoo, f"{name} is not owned by Odoo's role"
        assert not public_execute, f"PUBLIC may execute {name}"


@needs_db
def test_governor_role_cannot_write_around_the_functions():
    """The bypass of contract v1: a year-long lease on root.critical by a
    plain INSERT. Every direct write is refused; nothing changes."""
    from pg import GOVERNOR_ROLE

    before = (
        connect()
        .execute(
            "SELECT (SELECT count(*) FROM peak_queue_lease), "
            "(SELECT count(*) FROM peak_queue_lease_event)"
        )
        .fetchone()
    )
    odoo_session = connect(job_tag("bulk", "root.bulk"))
    odoo_pid = odoo_session.info.backend_pid
    critical_id = (
        connect()
        .execute(
            "SELECT id FROM queue_job_channel WHERE complete_name = 'root.critical'"
        )
        .fetchone()[0]
    )
    writes = [
        (
            "INSERT INTO peak_queue_lease (channel_id, holder, reason, evidence, "
            "expires_at, state, trickle) VALUES (%s, 'evil', 'x', '{}', "
            "now() + interval '1 year', 'active', false)",
            (critical_id,),
        ),
        ("UPDATE peak_queue_lease SET expires_at = now() + interval '1 year'", ()),
        ("DELETE FROM peak_queue_lease", ()),
        (
            "INSERT INTO peak_queue_lease_event (channel_name, action) "
            "VALUES ('root.critical', 'released')",
            (),
        ),
        ("DELETE FROM peak_queue_lease_event", ()),
        (
            "INSERT INTO peak_queue_governor_leader (id, holder, since, expires_at) "
            "VALUES (1, 'evil', now(), now() + interval '1 year')",
            (),
        ),
        ("UPDATE peak_queue_governor_leader SET holder = 'evil'", ()),
        ("DELETE FROM peak_queue_governor_leader", ()),
        ("SELECT nextval('peak_queue_lease_id_seq')", ()),
        # Conflicts are counted by Odoo only: the governor cannot forge one.
        ("SELECT nextval('peak_queue_conflicts_interactive')", ()),
        ("SELECT last_value FROM peak_queue_conflicts_interactive", ()),
        # No pg_signal_backend: Odoo's sessions only through the preempt rules.
        ("SELECT pg_cancel_backend(%s)", (odoo_pid,)),
        ("SELECT pg_terminate_backend(%s)", (odoo_pid,)),
    ]
    with connect(user=GOVERNOR_ROLE) as conn:
        for statement, params in writes:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, params)
        # Through the function the rules hold: critical can never be leased.
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="critical"):
            conn.execute(
                "SELECT * FROM peak_queue_lease_acquire("
                "'root.critical', 'evil', 'x', '{}'::jsonb, 60, false)"
            )
        # ...nor for longer than the maximum TTL.
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="ttl"):
            conn.execute(
                "SELECT * FROM peak_queue_lease_acquire("
                "'root.bulk', 'evil', 'x', '{}'::jsonb, 31536000, false)"
            )
        # Preemption only of a job's running statement: an idle session, or
        # one not tagged as that job, is refused.
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not running"):
            conn.execute(
                "SELECT peak_queue_job_preempt(%s, %s, 'evil', 'x', '{}'::jsonb)",
                (odoo_pid, "00000000-0000-0000-0000-000000000000"),
            )
        # ...and it reads the conflict counters through their function.
        totals = dict(conn.execute("SELECT * FROM peak_queue_conflicts()").fetchall())
        assert set(totals) == {"interactive", "critical", "operational"}
        assert "root.critical" not in {
            row[0]
            for row in conn.execute(
                "SELECT channel FROM peak_queue_active_leases()"
            ).fetchall()
        }
    after = (
        connect()
        .execute(
            "SELECT (SELECT count(*) FROM peak_queue_lease), "
            "(SELECT count(*) FROM peak_queue_lease_event)"
        )
        .fetchone()
    )
    assert after == before, "a refused write changed something"


@needs_db
def test_governor_role_writes_through_the_functions():
    from pg import GOVERNOR_ROLE

    holder = "contract-test-governor"
    with connect(user=GOVERNOR_ROLE) as conn:
        lease_id, _expires, renewed = conn.execute(
            "SELECT * FROM peak_queue_lease_acquire("
            "'root.bulk', %s, 'test', '{\"why\": 1}'::jsonb, 30, false)",
            (holder,),
        ).fetchone()
        assert not renewed
        assert conn.execute(
            "SELECT is_leader FROM peak_queue_governor_heartbeat(%s, 5, 'calm')",
            (holder,),
        ).fetchone()[0]
        assert (
            conn.execute(
                "SELECT peak_queue_lease_release('root.bulk', %s, 'done')", (holder,)
            ).fetchone()[0]
            == 1
        )
        assert conn.execute(
            "SELECT peak_queue_governor_resign(%s)", (holder,)
        ).fetchone()[0]
    actions = [
        row[0]
        for row in connect().execute(
            "SELECT action FROM peak_queue_lease_event WHERE lease_id = %s ORDER BY id",
            (lease_id,),
        )
    ]
    assert actions == ["created", "released"]
