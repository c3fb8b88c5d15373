"""S3 attachments across real PostgreSQL restores (peak_attachment_s3).

A "live" database (the `make test` database restored into the pgBackRest
lab's private PostgreSQL) stores attachments in a real SeaweedFS through
Odoo (``odoo-bin shell``), is backed up with ``pg_dump``, and goes on living:
one attachment more, one deleted, a heartbeat of the owner.  Then the backup
is restored twice against the same bucket:

- under the **same name** on another server (the `make test` server), as a
  staging copy of production would be: its GC collects nothing, and every
  object the live database wrote after the backup survives;
- under **another name** in the lab (a restore drill's copy, a duplicate):
  every attachment reads through Odoo, from the live database's prefix.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from peak_dev.pgbackrest import shared_lab
from peak_dev.seaweed import s3_environ
from pg import dsn as main_dsn
from pg import needs_db

pytestmark = needs_db
LIVE = "peak_s3_live"
COPY = "peak_s3_copy"
PORTABLE = ("--no-owner", "--no-privileges")  # roles differ between servers
ODOO_BIN = Path(os.environ.get("ODOO_SRC", "/opt/odoo")) / "odoo-bin"

CREATE = """
import hashlib, json, os
names = json.loads(os.environ["PEAK_T_NAMES"])
made = {}
for name in names:
    raw = (name + " " + os.urandom(8).hex()).encode()
    att = env["ir.attachment"].create(
        {"name": name, "raw": raw, "mimetype": "application/pdf"})
    made[name] = [att.store_fname, hashlib.sha1(raw).hexdigest()]
for name in json.loads(os.environ.get("PEAK_T_DELETE", "[]")):
    env["ir.attachment"].search([("name", "=", name)]).unlink()
env["ir.attachment"]._peak_s3_heartbeat()
env.cr.commit()
print("PEAK_T " + json.dumps(made))
"""
READ_AND_COLLECT = """
import hashlib, json
rows = env["ir.attachment"].search([("store_fname", "=like", "s3://%")])
read = {a.name: hashlib.sha1(a.raw).hexdigest() == a.checksum for a in rows}
collected = env["ir.attachment"]._peak_s3_gc(min_age_seconds=0)
env.cr.commit()
print("PEAK_T " + json.dumps({"read": read, "collected": collected}))
"""


def _sql(dsn, query):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query)


def _shell(pg: dict, database: str, script: str, env: dict) -> dict:
    argv = [sys.executable, str(ODOO_BIN), "shell", "--no-http", "-d", database]
    argv += ["-c", os.environ["PEAK_TEST_ODOO_CONFIG"], "--max-cron-threads=0"]
    for flag in ("db_host", "db_port", "db_user"):
        if pg.get(flag):
            argv += [f"--{flag}", str(pg[flag])]
    done = subprocess.run(
        argv,
        input=script,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("PEAK_T "):
            return json.loads(line[len("PEAK_T ") :]), done.stderr
    raise AssertionError(f"odoo-bin shell failed: {done.stderr[-3000:]}")


def _restore(dump: Path, admin_dsn: str, target_dsn: str, database: str) -> None:
    _sql(admin_dsn, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    _sql(admin_dsn, f"CREATE DATABASE {database} OWNER peak")
    subprocess.run(
        [
            "pg_restore",
            *PORTABLE,
            "--no-comments",
            "--exit-on-error",
            "-d",
            target_dsn,
            str(dump),
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def restored(tmp_path_factory, seaweed_s3):
    lab = shared_lab()
    workdir = tmp_path_factory.mktemp("s3-restore")
    prefix = f"restore-{secrets.token_hex(4)}/{{db}}/"
    # No read cache: what the copies read must come from the bucket.
    env = s3_environ(seaweed_s3, prefix, gc_min_age_seconds=0, cache_max_bytes=0)
    lab_pg = {"db_host": str(lab.pg.root), "db_port": lab.pg.port, "db_user": "peak"}
    admin = lab.pg.dsn()
    if (
        not psycopg.connect(admin, autocommit=True)
        .execute("SELECT 1 FROM pg_roles WHERE rolname = 'peak'")
        .fetchone()
    ):
        _sql(admin, "CREATE ROLE peak LOGIN")
    source = workdir / "source.dump"
    subprocess.run(
        ["pg_dump", "-Fc", *PORTABLE, "-f", str(source), main_dsn()],
        check=True,
        capture_output=True,
    )
    _restore(source, admin, lab.pg.dsn("peak", LIVE), LIVE)
    # A database that never stored in S3 (the suite's own tests may have).
    _sql(
        lab.pg.dsn("peak", LIVE),
        "DELETE FROM ir_attachment WHERE store_fname LIKE 's3://%%';"
        "DELETE FROM ir_config_parameter WHERE key LIKE 'peak_attachment_s3.%%'",
    )
    before, _log = _shell(
        lab_pg, LIVE, CREATE, dict(env, PEAK_T_NAMES='["kept.pdf", "dropped.pdf"]')
    )
    backup = workdir / "live.dump"
    subprocess.run(
        ["pg_dump", "-Fc", *PORTABLE, "-f", str(backup), lab.pg.dsn("peak", LIVE)],
        check=True,
        capture_output=True,
    )
    # Production goes on after the backup, and says it is alive.
    after, _log = _shell(
        lab_pg,
        LIVE,
        CREATE,
        dict(env, PEAK_T_NAMES='["late.pdf"]', PEAK_T_DELETE='["dropped.pdf"]'),
    )
    live_prefix = prefix.format(db=LIVE)
    yield {
        "env": env,
        "backup": backup,
        "lab": lab,
        "lab_pg": lab_pg,
        "objects": {
            name: live_prefix + fname[len("s3://") :]
            for name, (fname, _sha) in {**before, **after}.items()
        },
        "s3": seaweed_s3,
    }
    for database in (LIVE, COPY):
        _sql(admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _exists(restored, key):
    s3 = restored["s3"]
    found = s3.client().list_objects_v2(Bucket=s3.credentials.bucket, Prefix=key)
    return bool(found.get("KeyCount"))


def test_a_same_name_restore_elsewhere_deletes_nothing_of_the_live_database(
    restored,
):
    # Staging: the backup under the same name, on another server.
    main = psycopg.conninfo.conninfo_to_dict(main_dsn())
    admin = main_dsn(database="postgres")
    _restore(restored["backup"], admin, main_dsn(database=LIVE), LIVE)
    try:
        pg = {"db_host": main.get("host"), "db_port": main.get("port")}
        result, log = _shell(pg, LIVE, READ_AND_COLLECT, restored["env"])
    finally:
        _sql(admin, f"DROP DATABASE IF EXISTS {LIVE} WITH (FORCE)")
    assert result["read"] == {"kept.pdf": True, "dropped.pdf": True}
    assert result["collected"] == 0
    assert "restored from a backup older than the live database" in log
    # What production wrote after the backup is still there.
    assert _exists(restored, restored["objects"]["late.pdf"])


def test_a_copy_under_another_name_reads_every_attachment(restored):
    lab = restored["lab"]
    _restore(restored["backup"], lab.pg.dsn(), lab.pg.dsn("peak", COPY), COPY)
    result, log = _shell(restored["lab_pg"], COPY, READ_AND_COLLECT, restored["env"])
    assert result["read"] == {"kept.pdf": True, "dropped.pdf": True}
    assert result["collected"] == 0  # not the owner of the live prefix
    assert f"belongs to database '{LIVE}'" in log
    for key in restored["objects"].values():
        assert _exists(restored, key)
