"""``peak-governor drill restore`` on a real backup of a real Odoo database.

The test database of `make test` (the Peak suite installed) is copied into
the pgBackRest lab (tests/test_backup_pitr.py), given attachments whose files
sit in a filestore directory, backed up to SeaweedFS over HTTPS, changed after
a recorded time, then restored to that time by the drill, which loads Odoo's
registry on the copy (odoo-bin shell), checks the Peak addons and every
attachment's SHA-1 and drops the copy. The drill fails, saying why, when an
attachment file is missing or corrupt.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from peak_dev.pgbackrest import shared_lab
from pg import dsn as source_dsn
from pg import needs_db

pytestmark = needs_db
SOURCE_DB = "peak_drill_src"
CONTENTS = {
    "label.zpl": b"^XA^FO50,50^ADN,36,20^FDORDER 1^FS^XZ",
    "invoice.pdf": b"%PDF-1.4 drill invoice",
    "photo.png": b"\x89PNG\r\n\x1a\n drill",
}


def _sql(dsn, query, params=()):
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else None


def _store(filestore: Path, content: bytes) -> tuple[str, str]:
    checksum = hashlib.sha1(content).hexdigest()
    fname = f"{checksum[:2]}/{checksum}"
    (filestore / checksum[:2]).mkdir(parents=True, exist_ok=True)
    (filestore / fname).write_bytes(content)
    return fname, checksum


def _attach(dsn, name, fname, checksum, size):
    _sql(
        dsn,
        "INSERT INTO ir_attachment (name, type, store_fname, checksum, file_size, "
        "mimetype, create_date, write_date) VALUES (%s, 'binary', %s, %s, %s, "
        "'application/octet-stream', now() AT TIME ZONE 'utc', "
        "now() AT TIME ZONE 'utc')",
        (name, fname, checksum, size),
    )


@pytest.fixture(scope="module")
def odoo_copy(tmp_path_factory, seaweed_s3):
    """The test database copied into the lab, with three attachments in the
    filestore and one in S3 (peak_attachment_s3's ``s3://`` layout)."""
    lab = shared_lab()
    workdir = tmp_path_factory.mktemp("drill")
    dump = workdir / "peak.dump"
    subprocess.run(
        [
            "pg_dump",
            "-Fc",
            "--no-owner",
            "--no-privileges",
            "-f",
            str(dump),
            source_dsn(),
        ],
        check=True,
        capture_output=True,
    )
    admin = lab.pg.dsn()
    if not _sql(admin, "SELECT 1 FROM pg_roles WHERE rolname = 'peak'"):
        _sql(admin, "CREATE ROLE peak LOGIN")
    _sql(admin, f"DROP DATABASE IF EXISTS {SOURCE_DB} WITH (FORCE)")
    _sql(admin, f"CREATE DATABASE {SOURCE_DB} OWNER peak")
    source = lab.pg.dsn("peak", SOURCE_DB)
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--no-comments",
            "--exit-on-error",
            "-d",
            source,
            str(dump),
        ],
        check=True,
        capture_output=True,
    )
    # Only our attachments have files here: forget the copied ones (assets).
    _sql(source, "DELETE FROM ir_attachment WHERE store_fname IS NOT NULL")
    filestore = workdir / "filestore"
    files = {}
    for name, content in CONTENTS.items():
        fname, checksum = _store(filestore, content)
        _attach(source, name, fname, checksum, len(content))
        files[name] = filestore / fname
    # As peak_attachment_s3 stores it: s3://ab/abc… under PEAK_S3_KEY_PREFIX.
    s3_content = b"drill object in S3"
    s3_sum = hashlib.sha1(s3_content).hexdigest()
    s3_key = f"odoo/{SOURCE_DB}/{s3_sum[:2]}/{s3_sum}"
    seaweed_s3.client().put_object(
        Bucket=seaweed_s3.credentials.bucket, Key=s3_key, Body=s3_content
    )
    _attach(source, "picking.pdf", f"s3://{s3_sum[:2]}/{s3_sum}", s3_sum, 18)
    # Its objects are under this name, wherever the copy is restored (the
    # parameter peak_attachment_s3 keeps from its first S3 write).
    _sql(
        source,
        "INSERT INTO ir_config_parameter (key, value) VALUES "
        "('peak_attachment_s3.home_database', %s) ON CONFLICT (key) "
        "DO UPDATE SET value = EXCLUDED.value",
        (SOURCE_DB,),
    )
    creds = seaweed_s3.credentials
    return {
        "s3": seaweed_s3,
        "s3_key": s3_key,
        "s3_env": {
            "PEAK_S3_ENDPOINT_URL": creds.endpoint_url,
            "PEAK_S3_ACCESS_KEY": creds.access_key,
            "PEAK_S3_SECRET_KEY": creds.secret_key,
            "PEAK_S3_BUCKET": creds.bucket,
        },
        "lab": lab,
        "source": source,
        "filestore": filestore,
        "files": files,
        "dump": dump,
        "workdir": workdir,
    }


def _archive_now(lab, timeout=30):
    """Switch WAL and wait until the archiver has pushed the segment."""
    admin = lab.pg.dsn()
    before = _sql(admin, "SELECT archived_count FROM pg_stat_archiver")[0][0]
    _sql(admin, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + timeout
    while _sql(admin, "SELECT archived_count FROM pg_stat_archiver")[0][0] <= before:
        assert time.monotonic() < deadline, "WAL was not archived in time"
        time.sleep(0.3)


def _drill(*args, env=None):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "peak_governor.cli",
            "drill",
            "restore",
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = None
    return done, report


def _steps(report):
    return {s["name"]: s for s in report["steps"]}


def test_drill_restores_to_a_point_in_time_and_passes(odoo_copy):
    lab, source = odoo_copy["lab"], odoo_copy["source"]
    lab.backrest.run("--type=incr", "backup")
    time.sleep(1.5)  # a backup that stopped strictly before the target
    _sql(
        source,
        "UPDATE ir_config_parameter SET write_date = now() AT TIME ZONE 'utc' "
        "WHERE key = 'database.uuid'",
    )
    target = _sql(source, "SELECT clock_timestamp()")[0][0]
    time.sleep(0.5)
    # After the target: an attachment whose file never reached the filestore.
    _attach(source, "late.pdf", "ff/" + "f" * 40, "f" * 40, 3)
    _archive_now(lab)

    done, report = _drill(
        "--pgbackrest-stanza=peak",
        f"--pgbackrest-config={lab.backrest.config}",
        f"--target-time={target.isoformat(sep=' ')}",
        f"--database={SOURCE_DB}",
        f"--filestore={odoo_copy['filestore']}",
        f"--odoo-config={os.environ['PEAK_TEST_ODOO_CONFIG']}",
        "--attachment-sample=0",
        "--rpo-target-seconds=60",
        "--rto-target-seconds=900",
        env=odoo_copy["s3_env"],
    )
    assert report is not None, done.stderr[-2000:]
    steps = _steps(report)
    assert done.returncode == 0, json.dumps(report, indent=1)
    assert report["status"] == "pass"
    assert "pgBackRest stanza peak to" in steps["restore"]["message"]
    assert "users" in steps["registry loads"]["message"]
    assert "peak_queue" in steps["Peak addons consistent"]["message"]
    # The later attachment row is not in the copy: its missing file is no issue.
    assert steps["attachment objects"]["message"].startswith(
        "4 checked in S3 (1) and filestore (3) (all)"
    )
    assert "S3 read through Odoo on the copy" in steps["attachment objects"]["message"]
    assert "before the target time" in steps["data age (RPO)"]["message"]
    assert steps["recovery time (RTO)"]["status"] == "pass"
    leftovers = [p for p in Path("/tmp").glob("peak-drill-*") if (p / "data").exists()]
    assert not leftovers, "the scratch copy was dropped"


def test_drill_fails_on_a_missing_or_corrupt_attachment(odoo_copy):
    """From a pg_dump archive this time, into a scratch database."""
    lab = odoo_copy["lab"]
    dump = odoo_copy["workdir"] / "source.dump"
    # Three attachments with their files (not the row written after the PITR
    # target of the previous test, whose file never existed).
    _sql(odoo_copy["source"], "DELETE FROM ir_attachment WHERE name = 'late.pdf'")
    subprocess.run(
        ["pg_dump", "-Fc", "-f", str(dump), odoo_copy["source"]],
        check=True,
        capture_output=True,
    )
    files = odoo_copy["files"]
    saved = {name: path.read_bytes() for name, path in files.items()}
    files["label.zpl"].write_bytes(b"^XA truncated")
    files["invoice.pdf"].unlink()
    bucket = odoo_copy["s3"].credentials.bucket
    odoo_copy["s3"].client().put_object(
        Bucket=bucket, Key=odoo_copy["s3_key"], Body=b"overwritten"
    )
    try:
        done, report = _drill(
            f"--dump={dump}",
            f"--scratch-dsn={lab.pg.dsn()}",
            f"--database={SOURCE_DB}",
            f"--filestore={odoo_copy['filestore']}",
            f"--odoo-config={os.environ['PEAK_TEST_ODOO_CONFIG']}",
            "--attachment-sample=0",
            env=odoo_copy["s3_env"],
        )
    finally:
        for name, content in saved.items():
            files[name].write_bytes(content)
        odoo_copy["s3"].client().put_object(
            Bucket=bucket, Key=odoo_copy["s3_key"], Body=b"drill object in S3"
        )
    assert report is not None, done.stderr[-2000:]
    assert done.returncode == 1
    steps = _steps(report)
    assert steps["restore"]["status"] == "pass"
    assert steps["registry loads"]["status"] == "pass"
    attachments = steps["attachment objects"]
    assert attachments["status"] == "fail"
    assert attachments["message"].startswith("3 of 4 bad in S3 (1) and filestore (3)")
    assert "checksum mismatch" in attachments["message"]
    assert "object missing" in attachments["message"]
    # Odoo, on the copy restored under another name, read the S3 object where
    # the source keeps it, and refused its changed content.
    assert "does not match its checksum" in attachments["message"]
    scratch = _sql(
        lab.pg.dsn(),
        "SELECT datname FROM pg_database WHERE datname LIKE 'peak_drill_%%'",
    )
    assert scratch == [(SOURCE_DB,)], "the scratch database was dropped"


def test_drill_refuses_bad_options(odoo_copy, tmp_path):
    done, _ = _drill(f"--database={SOURCE_DB}")
    assert done.returncode == 2 and "exactly one source" in done.stderr
    done, _ = _drill(
        f"--database={SOURCE_DB}",
        f"--dump={tmp_path / 'none.dump'}",
        "--scratch-dsn=host=/tmp",
    )
    assert done.returncode == 2 and "no such file" in done.stderr
    done, _ = _drill(
        f"--database={SOURCE_DB}", "--pgbackrest-stanza=peak", "--target-time=yesterday"
    )
    assert done.returncode == 2 and "is not ISO 8601" in done.stderr
    done, _ = _drill(
        f"--database={SOURCE_DB}", "--pgbackrest-stanza=peak", '--db-user=x"; DROP'
    )
    assert done.returncode == 2 and "--db-user" in done.stderr
    done, _ = _drill("--pgbackrest-stanza=peak", env={"PEAK_DRILL_DATABASE": ""})
    assert done.returncode == 2 and "--database" in done.stderr


def test_drill_reports_a_failed_restore_command(odoo_copy):
    done, report = _drill(
        f"--database={SOURCE_DB}",
        "--restore-command=echo 'bucket not found' >&2; exit 3",
        f"--restored-dsn={odoo_copy['lab'].pg.dsn('peak', 'nothing_here')}",
    )
    assert done.returncode == 1
    restore = _steps(report)["restore"]
    assert restore["status"] == "fail"
    assert "exited 3: bucket not found" in restore["message"]
