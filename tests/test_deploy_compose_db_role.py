"""Compose: Odoo connects as a normal role, never as the superuser.

peak_queue's SECURITY DEFINER functions run with their owner's rights, and
their owner is whoever Odoo connects as: the superuser in compose would make
every one of them a superuser function. The postgres image's init scripts
(docker/postgres/initdb, run in order as the image does) are run here
against a private PostgreSQL 15, then the roles they made are checked.
"""

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
import yaml
from peak_dev.pginstance import PG_BIN, PrivatePostgres, make_root

ROOT = Path(__file__).resolve().parents[1]
INITDB = ROOT / "docker" / "postgres" / "initdb"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_odoo_db_user_is_not_the_postgres_superuser(compose):
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    superuser = postgres.get("POSTGRES_USER", "postgres")
    for name, service in services.items():
        env = service.get("environment") or {}
        if "PEAK_DB_USER" in env and name != "postgres":
            assert env["PEAK_DB_USER"] != superuser, name
            # Same interpolation as the role the init script creates.
            assert env["PEAK_DB_USER"] == postgres["PEAK_DB_USER"], name
            assert env["PEAK_DB_PASSWORD"] == postgres["PEAK_DB_PASSWORD"], name
            assert env["PEAK_DB_NAME"] == postgres["PEAK_DB_NAME"], name
    assert postgres["POSTGRES_PASSWORD"] != postgres["PEAK_DB_PASSWORD"]


@pytest.fixture(scope="module")
def initialised():
    """A fresh cluster with every init script run, as on a new volume."""
    server = PrivatePostgres(make_root("peak-initdb-")).initdb()
    # The superuser over the socket as the image's scripts do; every other
    # role by password, so a login proves the password was set.
    (server.data / "pg_hba.conf").write_text(
        "local all postgres trust\nlocal all all scram-sha-256\n"
    )
    server.start()
    env = {
        "PATH": f"{PG_BIN}:{os.environ['PATH']}",
        "PGHOST": str(server.root),
        "PGPORT": str(server.port),
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "PEAK_DB_USER": "odoo",
        "PEAK_DB_PASSWORD": "odoo-secret",
        "PEAK_DB_NAME": "odoo",
        "PEAK_GOVERNOR_DB_PASSWORD": "governor-secret",
    }
    try:
        for script in sorted(INITDB.glob("*.sh")):
            done = subprocess.run(
                ["sh", str(script)], env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{script.name}: {done.stderr}"
        yield server, env
    finally:
        server.destroy()


def test_init_scripts_make_odoo_a_normal_role_owning_its_database(initialised):
    server, env = initialised
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        role = admin.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication,"
            " rolbypassrls FROM pg_roles WHERE rolname = 'odoo'"
        ).fetchone()
        assert role == (False, True, False, False, False)
        owner = admin.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'odoo'"
        ).fetchone()
        assert owner == ("odoo",)
        # The governor's script still runs after it, on the same cluster.
        assert admin.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = 'peak_governor'"
        ).fetchone() == (False,)
    dsn = server.dsn(user="odoo", dbname="odoo")
    with psycopg.connect(dsn, password=env["PEAK_DB_PASSWORD"]) as odoo:
        assert odoo.execute("SELECT current_setting('is_superuser')").fetchone() == (
            "off",
        )
        # What a superuser could and Odoo must not: read the server's files.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            odoo.execute("SELECT pg_read_file('PG_VERSION')")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, password="wrong").close()


def test_the_init_script_refuses_the_superuser_as_odoo(tmp_path):
    done = subprocess.run(
        ["sh", str(INITDB / "05-odoo-role.sh")],
        env={
            "PATH": os.environ["PATH"],
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "postgres",
            "PEAK_DB_USER": "postgres",
            "PEAK_DB_PASSWORD": "x",
            "PEAK_DB_NAME": "odoo",
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "must not be the superuser" in done.stderr
