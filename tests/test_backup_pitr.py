"""Point-in-time recovery with pgBackRest, its repository in SeaweedFS over HTTPS.

One lab per test session (scripts/peak_dev/pgbackrest.py): a private
PostgreSQL archiving its WAL through pgBackRest into a local SeaweedFS S3
served with a self-signed certificate. Nothing is mocked: the restore reads
the WAL back from S3.
"""

import time

import psycopg
import pytest
from peak_dev.pgbackrest import shared_lab
from peak_dev.pginstance import make_root

from peak_governor import doctor
from peak_governor.doctor import FAIL, PASS, WARN, DoctorConfig


@pytest.fixture(scope="module")
def lab():
    return shared_lab()


def _sql(dsn, query, params=()):
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else None


def _switch_wal(dsn):
    """A new segment to archive (switching an empty one is a no-op)."""
    _sql(dsn, "CREATE TABLE IF NOT EXISTS wal_tick (at timestamptz)")
    _sql(dsn, "INSERT INTO wal_tick VALUES (clock_timestamp())")
    _sql(dsn, "SELECT pg_switch_wal()")


def _wait_archived(lab, timeout=30):
    """Switch WAL and wait until the archiver reports it pushed."""
    before = _sql(lab.pg.dsn(), "SELECT archived_count FROM pg_stat_archiver")[0][0]
    _switch_wal(lab.pg.dsn())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _sql(lab.pg.dsn(), "SELECT archived_count FROM pg_stat_archiver")[0][0]
        if now > before:
            return
        time.sleep(0.3)
    raise AssertionError("WAL was not archived in time")


def test_restore_to_a_recorded_time(lab):
    dsn = lab.pg.dsn()
    _sql(dsn, "DROP TABLE IF EXISTS pitr_orders")
    _sql(dsn, "CREATE TABLE pitr_orders (id int PRIMARY KEY, note text)")
    _sql(dsn, "INSERT INTO pitr_orders VALUES (1, 'before the backup')")
    lab.backrest.run("--type=full", "backup")
    info = lab.backrest.info()
    assert info["status"]["message"] == "ok"
    assert any(b["type"] == "full" for b in info["backup"])
    time.sleep(1.5)  # pgBackRest picks a backup that stopped strictly before
    _sql(dsn, "INSERT INTO pitr_orders VALUES (2, 'after the backup, before T')")
    target = _sql(dsn, "SELECT clock_timestamp()")[0][0]
    time.sleep(0.5)
    _sql(dsn, "INSERT INTO pitr_orders VALUES (3, 'after T')")
    _sql(dsn, "UPDATE pitr_orders SET note = 'changed after T' WHERE id = 1")
    _wait_archived(lab)

    restored = lab.backrest.restore(
        make_root("peak-pitr-") / "data", target.isoformat(sep=" ")
    )
    try:
        lab.backrest.start_restored(restored)
        rows = _sql(restored.dsn(), "SELECT id, note FROM pitr_orders ORDER BY id")
        assert rows == [(1, "before the backup"), (2, "after the backup, before T")]
        # The copy is promoted (writable) and archives nothing.
        assert _sql(restored.dsn(), "SELECT pg_is_in_recovery()")[0][0] is False
        assert _sql(restored.dsn(), "SHOW archive_mode")[0][0] == "off"
    finally:
        restored.destroy()
    # The source keeps every row.
    assert [r[0] for r in _sql(dsn, "SELECT id FROM pitr_orders ORDER BY id")] == [
        1,
        2,
        3,
    ]


def test_doctor_wal_archiving_fails_then_recovers(lab):
    dsn = lab.pg.dsn()
    _wait_archived(lab)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        finding = doctor.check_wal_archiving(cur, DoctorConfig())[0]
    assert finding.status == PASS and "WAL files archived" in finding.message

    _sql(dsn, "ALTER SYSTEM SET archive_command = '/bin/false'")
    _sql(dsn, "SELECT pg_reload_conf()")
    try:
        _switch_wal(dsn)
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
                finding = doctor.check_wal_archiving(cur, DoctorConfig())[0]
            if finding.status == FAIL or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert finding.status == FAIL, finding
        assert "nothing archived since" in finding.message
        assert "pgbackrest" in finding.fix
    finally:
        _sql(dsn, "ALTER SYSTEM RESET archive_command")
        _sql(dsn, "SELECT pg_reload_conf()")
    # The archiver retries the same segment with the restored command.
    _wait_archived(lab, timeout=60)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        assert doctor.check_wal_archiving(cur, DoctorConfig())[0].status == PASS


def test_doctor_newest_backup_age(lab):
    if not lab.backrest.info().get("backup"):
        lab.backrest.run("--type=full", "backup")
    config = str(lab.backrest.config)
    with psycopg.connect(lab.pg.dsn(), autocommit=True) as conn, conn.cursor() as cur:
        ok = doctor.check_backup_age(
            cur, DoctorConfig(pgbackrest_stanza="peak", pgbackrest_config=config)
        )[0]
        assert ok.status == PASS and "h old (target 26 h)" in ok.message
        old = doctor.check_backup_age(
            cur,
            DoctorConfig(
                pgbackrest_stanza="peak",
                pgbackrest_config=config,
                max_backup_age_hours=0.0001,
            ),
        )[0]
        assert old.status == FAIL and "--type=full backup" in old.fix
        unknown = doctor.check_backup_age(
            cur, DoctorConfig(pgbackrest_stanza="nope", pgbackrest_config=config)
        )[0]
        assert unknown.status == FAIL
        none = doctor.check_backup_age(cur, DoctorConfig())[0]
        assert none.status == WARN and "no pgBackRest stanza" in none.message
