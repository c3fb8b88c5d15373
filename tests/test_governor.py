"""The governor's loop in-process against a real PostgreSQL: sensor, policy,
actuator and the lease contract of a database with peak_queue installed."""

import dataclasses
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pg import (
    DB,
    GOVERNOR_ROLE,
    INTERACTIVE,
    LockScene,
    copy_peak_schema,
    dsn,
    hot_rows,
    job_tag,
    needs_db,
    sql,
)

from peak_governor.config import Config
from peak_governor.daemon import DatabaseGovernor, SuperuserRefused, run
from peak_governor.policy import PolicyConfig

pytestmark = needs_db

FAST_POLICY = dataclasses.replace(
    PolicyConfig(),
    min_dwell_seconds=1.0,
    resume_step_seconds=0.2,
    resume_jitter=0.0,
    min_hold_seconds=1.0,
    release_quiet_seconds=0.5,
    # One scripted waiter is no wave: these tests are about the loop, the
    # gate has its own (tests/test_policy.py; the CLI tests run it on).
    demand_gate=False,
)


def make_config(**overrides) -> Config:
    values = {
        "dsn": dsn(user=GOVERNOR_ROLE),
        "databases": (DB,),
        "interval": 0.2,
        "lease_ttl": 10,
        "leader_ttl": 3,
        "instance_id": f"test-{uuid.uuid4().hex[:8]}",
        "policy": FAST_POLICY,
    }
    values.update(overrides)
    return Config(**values).validate()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def set_peak(protected: bool, peak_mode: bool | None = None):
    now = datetime.now(UTC)
    around = [[_iso(now - timedelta(hours=1)), _iso(now + timedelta(hours=1))]]
    doc = {
        "version": 1,
        "valid_from": _iso(now - timedelta(hours=1)),
        "valid_until": _iso(now + timedelta(hours=2)),
        "intervals": around if protected else [],
        "peak_mode": around if (protected if peak_mode is None else peak_mode) else [],
    }
    sql(
        "INSERT INTO ir_config_parameter (key, value) VALUES "
        "('peak_base.protected_intervals', %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value",
        (json.dumps(doc),),
    )


@pytest.fixture
def table():
    with hot_rows() as name:
        yield name


@pytest.fixture(autouse=True)
def clean_contract_state():
    previous = sql(
        "SELECT value FROM ir_config_parameter "
        "WHERE key = 'peak_base.protected_intervals'"
    )
    yield
    sql("SELECT peak_queue_lease_release(NULL, NULL, 'test cleanup')")
    sql("DELETE FROM peak_queue_governor_leader")
    if previous:
        sql(
            "UPDATE ir_config_parameter SET value = %s "
            "WHERE key = 'peak_base.protected_intervals'",
            (previous[0][0],),
        )


def leased() -> dict[str, bool]:
    return dict(sql("SELECT channel, trickle FROM peak_queue_active_leases()"))


def cycle_until(governor, predicate, timeout_s: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout_s, "condition not reached in time"
        governor.cycle()
        time.sleep(0.2)
    return time.monotonic() - started


def test_bulk_blocker_is_leased_then_released_when_calm(table):
    set_peak(protected=True)
    governor = DatabaseGovernor(make_config(), DB)
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        scene.add_waiter(INTERACTIVE)
        scene.add_waiter(INTERACTIVE)
        cycle_until(governor, lambda: "root.bulk" in leased(), timeout_s=2.0)
    assert set(leased()) == {"root.bulk"}
    cycle_until(governor, lambda: not leased(), timeout_s=20.0)
    actions = [
        row[0]
        for row in sql(
            "SELECT action FROM peak_queue_lease_event "
            "WHERE channel_name = 'root.bulk' ORDER BY id DESC LIMIT 2"
        )
    ]
    assert actions[0] == "released"
    evidence = sql(
        "SELECT evidence FROM peak_queue_lease_event WHERE channel_name = 'root.bulk' "
        "AND action = 'created' ORDER BY id DESC LIMIT 1"
    )[0][0]
    assert evidence, "a lease carries its evidence"
    governor.shutdown()


def test_a_held_lease_is_written_now_and_then_not_every_cycle(table):
    """The policy keeps the lease every cycle; the database sees a renewal
    once a third of the TTL has passed (2 s here), not five times a second,
    and the lease never lapses meanwhile."""
    set_peak(protected=True)
    governor = DatabaseGovernor(make_config(lease_ttl=6), DB)
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        scene.add_waiter(INTERACTIVE)
        scene.add_waiter(INTERACTIVE)
        cycle_until(governor, lambda: "root.bulk" in leased(), timeout_s=2.0)
        (first,) = sql(
            "SELECT max(id) FROM peak_queue_lease_event WHERE action = 'created'"
        )[0]
        cycles = 0
        started = time.monotonic()
        while time.monotonic() - started < 5.0:
            governor.cycle()
            cycles += 1
            assert "root.bulk" in leased(), "the lease lapsed between renewals"
            time.sleep(0.1)
    renewals = sql(
        "SELECT count(*) FROM peak_queue_lease_event "
        "WHERE id > %s AND action = 'renewed' AND channel_name = 'root.bulk'",
        (first,),
    )[0][0]
    assert cycles >= 20
    assert 1 <= renewals <= 4, f"{renewals} renewals in {cycles} cycles"
    governor.shutdown()


def test_only_the_channel_that_blocks_is_leased(table):
    set_peak(protected=True)
    governor = DatabaseGovernor(make_config(), DB)
    with LockScene(table, job_tag("background", "root.background")) as scene:
        scene.add_waiter(INTERACTIVE)
        cycle_until(governor, lambda: "root.background" in leased(), timeout_s=2.0)
        for _ in range(5):
            governor.cycle()
        assert set(leased()) == {"root.background"}, "root.bulk blocks nobody"
    # The leader reports its profile with its heartbeat (Settings shows it).
    assert sql("SELECT profile FROM peak_queue_governor_leader") == [("balanced",)]
    governor.shutdown()


def test_untagged_blocker_falls_back_to_class_order(table):
    set_peak(protected=True)
    governor = DatabaseGovernor(make_config(), DB)
    with LockScene(table, "psql") as scene:
        scene.add_waiter(INTERACTIVE)
        cycle_until(governor, lambda: leased(), timeout_s=3.0)
        assert set(leased()) == {"root.bulk"}, "bulk first, never critical"
    governor.shutdown()


def test_dry_run_decides_but_writes_nothing(table):
    set_peak(protected=True)
    governor = DatabaseGovernor(make_config(dry_run=True), DB)
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        scene.add_waiter(INTERACTIVE)
        decisions = []
        for _ in range(6):
            time.sleep(0.2)  # let the waiter age past the thresholds
            decisions.append(governor.cycle())
    assert any(d.actions for d in decisions), "it decided to lease"
    assert leased() == {}
    assert sql("SELECT count(*) FROM peak_queue_governor_leader")[0][0] == 0


def test_outside_peak_mode_it_only_observes(table):
    set_peak(protected=False, peak_mode=False)
    governor = DatabaseGovernor(make_config(), DB)
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        scene.add_waiter(INTERACTIVE)
        decisions = [governor.cycle() for _ in range(5)]
        time.sleep(0.6)
        decisions.append(governor.cycle())
    assert decisions[-1].level != "calm", "the contention is seen"
    assert not any(d.acting for d in decisions)
    assert leased() == {}


def test_lost_connection_reconnects_without_spurious_actions(table):
    set_peak(protected=True)
    governor = DatabaseGovernor(make_config(), DB)
    assert governor.cycle().actions == ()
    with psycopg.connect(dsn(user="postgres"), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(%s)", (governor.conn.info.backend_pid,)
        )
    assert governor.cycle() is None, "a failed sample decides nothing"
    decision = governor.cycle()
    assert decision is not None and decision.actions == ()
    assert leased() == {}
    governor.shutdown()


def test_shutdown_releases_leases_and_resigns(table):
    set_peak(protected=True)
    config = make_config()
    governor = DatabaseGovernor(config, DB)
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        scene.add_waiter(INTERACTIVE)
        cycle_until(governor, lambda: leased(), timeout_s=2.0)
        assert governor.shutdown() == 1
        assert leased() == {}
        assert sql("SELECT count(*) FROM peak_queue_governor_leader")[0][0] == 0


def test_superuser_is_refused():
    config = make_config(dsn=dsn(user="postgres"))
    with pytest.raises(SuperuserRefused):
        DatabaseGovernor(config, DB).cycle()
    allowed = DatabaseGovernor(
        make_config(dsn=dsn(user="postgres"), allow_superuser=True), DB
    )
    assert allowed.cycle() is not None
    allowed.shutdown()


def test_least_privilege_role_can_govern(table):
    set_peak(protected=True)
    governor = DatabaseGovernor(make_config(), DB)
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        scene.add_waiter(INTERACTIVE)
        cycle_until(governor, lambda: "root.bulk" in leased(), timeout_s=2.0)
    governor.shutdown()
    # ...and can do nothing more than that.
    with psycopg.connect(dsn(user=GOVERNOR_ROLE), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE queue_job_channel SET paused = true")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT login FROM res_users")


def test_missing_grant_is_one_clear_error():
    from peak_governor.actuator import ContractError

    acquire = "peak_queue_lease_acquire(text, text, text, jsonb, integer, boolean)"
    sql(f"REVOKE EXECUTE ON FUNCTION {acquire} FROM {GOVERNOR_ROLE}")
    try:
        with pytest.raises(ContractError, match=r"peak_queue_lease_acquire\(.*EXECUTE"):
            DatabaseGovernor(make_config(), DB).cycle()
    finally:
        sql(f"GRANT EXECUTE ON FUNCTION {acquire} TO {GOVERNOR_ROLE}")


@pytest.fixture
def second_db():
    """Another Odoo database on the same server: the schema and channels of
    the test database (with the contract's functions and grants), copied."""
    name = f"{DB}_b"[:63]
    sql(f'DROP DATABASE IF EXISTS "{name}"')
    sql(f'CREATE DATABASE "{name}"')
    copy_peak_schema(dsn(database=name))
    try:
        yield name
    finally:
        sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
        sql(f'DROP DATABASE IF EXISTS "{name}"')


def test_one_process_governs_several_databases_independently(table, second_db):
    set_peak(protected=True)
    doc = sql(
        "SELECT value FROM ir_config_parameter "
        "WHERE key = 'peak_base.protected_intervals'"
    )[0][0]
    sql(
        "INSERT INTO ir_config_parameter (key, value) VALUES "
        "('peak_base.protected_intervals', %s)",
        (doc,),
        second_db,
    )
    config = make_config(databases=(DB, second_db))
    stop = threading.Event()
    loop = threading.Thread(target=run, args=(config, stop), daemon=True)
    loop.start()

    def leased_in(database):
        return {
            row[0]
            for row in sql(
                "SELECT channel FROM peak_queue_active_leases()", (), database
            )
        }

    try:
        with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
            scene.add_waiter(INTERACTIVE)
            deadline = time.monotonic() + 3
            while "root.bulk" not in leased_in(DB):
                assert time.monotonic() < deadline, "first database never leased"
                time.sleep(0.1)
            assert leased_in(second_db) == set(), "the calm database is left alone"
        with hot_rows(database=second_db) as other_table:
            with LockScene(
                other_table,
                job_tag("background", "root.background"),
                database=second_db,
            ) as scene:
                scene.add_waiter(INTERACTIVE)
                deadline = time.monotonic() + 3
                while "root.background" not in leased_in(second_db):
                    assert time.monotonic() < deadline, "second database never leased"
                    time.sleep(0.1)
    finally:
        stop.set()
        loop.join(10)
    assert not loop.is_alive()
    # Stopping hands over: leadership given up in both, leases left to expire
    # or to the next governor (handover.py).
    for database in (DB, second_db):
        leaders = sql("SELECT count(*) FROM peak_queue_governor_leader", (), database)
        assert leaders == [(0,)], f"still leading {database}"


def test_sensor_sees_protected_demand_by_statement():
    """Requests and critical/operational jobs count as demand, running or
    just finished; bulk work does not; each statement is a new activity."""
    from pg import connect

    from peak_governor.sensor import Sensor

    with (
        connect(INTERACTIVE) as request,
        connect(job_tag("operational", "root.operational")) as operational,
        connect(job_tag("bulk", "root.bulk")) as bulk,
        psycopg.connect(dsn(user=GOVERNOR_ROLE), autocommit=True) as governor,
    ):
        for conn in (request, operational, bulk):
            conn.execute("SELECT 1")
        sensor = Sensor(DB)
        first = {a.pid: a for a in sensor.sample(governor).protected_activity}
        assert request.info.backend_pid in first
        assert operational.info.backend_pid in first
        assert bulk.info.backend_pid not in first
        seen = first[request.info.backend_pid]
        assert seen.active is False and seen.age_seconds < 10
        time.sleep(0.05)
        request.execute("SELECT 2")
        again = {a.pid: a for a in sensor.sample(governor).protected_activity}
        assert again[request.info.backend_pid].changed_at > seen.changed_at
