"""The governor's and KEDA's PostgreSQL roles hold what they use and nothing
else (docs/db-contract.md, v5), tried as the roles themselves on the test
database, and the deployments create them that way."""

import os
import re
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from pg import DB, GOVERNOR_ROLE, connect, grant_roles, needs_db, sql, superuser
from test_deploy_k8s import named, render

from peak_governor import contract

ROOT = Path(__file__).resolve().parents[1]
KEDA_ROLE = f"peak_keda_{DB}"[:63] if DB else "peak_keda"
JOB_SECRET = "card 4111-1111-1111-1111"  # what a job's arguments may hold
DENIED = psycopg.errors.InsufficientPrivilege
DWELL = "peak_governor.min_dwell_seconds"


def _grant(**env):
    """peak_queue's own grants, as at an install or upgrade, for these roles."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        grant_roles()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def job():
    job_uuid = str(uuid.uuid4())
    sql(
        "INSERT INTO queue_job (uuid, name, state, channel, model_name, method_name,"
        " date_created, priority, records, args, kwargs)"
        " VALUES (%s, 'charge', 'pending', 'root', 'res.partner', 'write', now(),"
        " 10, '{}', %s, '{}')",
        (job_uuid, f'["{JOB_SECRET}"]'),
    )
    yield job_uuid
    sql("DELETE FROM queue_job WHERE uuid = %s", (job_uuid,))


@pytest.fixture
def keda_role():
    with superuser() as admin:
        admin.execute(f"DROP ROLE IF EXISTS {KEDA_ROLE}")
        admin.execute(f"CREATE ROLE {KEDA_ROLE} LOGIN")
        try:
            _grant(PEAK_KEDA_ROLE=KEDA_ROLE, PEAK_GOVERNOR_ROLE=GOVERNOR_ROLE)
            yield KEDA_ROLE
        finally:
            admin.execute(f"DROP OWNED BY {KEDA_ROLE}")
            admin.execute(f"DROP ROLE {KEDA_ROLE}")


@needs_db
@pytest.mark.parametrize(
    "query",
    [
        "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'",
        "SELECT args FROM queue_job LIMIT 1",
        "SELECT exc_info FROM queue_job LIMIT 1",
    ],
)
def test_the_governor_cannot_read_the_secret_or_the_jobs(query):
    with connect(user=GOVERNOR_ROLE) as conn, pytest.raises(DENIED):
        conn.execute(query)


@needs_db
def test_the_governor_reads_only_its_own_settings():
    sql(
        "INSERT INTO ir_config_parameter (key, value) VALUES (%s, '42')"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (DWELL,),
    )
    try:
        with connect(user=GOVERNOR_ROLE) as conn:
            keys = {
                row[0] for row in conn.execute("SELECT key FROM peak_queue_settings()")
            }
            settings = dict(conn.execute(contract.SETTINGS_SQL).fetchall())
    finally:
        sql("DELETE FROM ir_config_parameter WHERE key = %s", (DWELL,))
    assert settings[DWELL] == "42"
    assert all(key.startswith("peak_governor.") for key in settings)
    assert "database.secret" not in keys
    assert keys <= set(settings) | {"peak_base.protected_intervals"}


@needs_db
def test_the_governor_resolves_a_job_channel_but_never_reads_its_arguments(job):
    with connect(user=GOVERNOR_ROLE) as conn:
        rows = conn.execute(contract.JOB_CHANNEL_SQL, ([job],)).fetchall()
        durations = conn.execute(contract.JOB_DURATIONS_SQL).fetchone()
    assert rows == [(job, "root")]
    assert JOB_SECRET not in repr(rows)
    assert len(durations) == 2


@needs_db
def test_the_governor_sees_sessions_without_their_sql():
    """pg_monitor showed every session's query, literals included; the
    sessions function gives what the sensor needs and nothing else."""
    with connect("pk1|http|res.partner.write", autocommit=False) as odoo_session:
        odoo_session.execute(f"SELECT '{JOB_SECRET}'")  # now idle in transaction
        pid = odoo_session.info.backend_pid
        with connect(user=GOVERNOR_ROLE) as conn:
            query = conn.execute(
                "SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT * FROM peak_queue_sessions() WHERE pid = %s", (pid,)
            ).fetchall()
    assert query == "<insufficient privilege>"
    assert len(rows) == 1
    row = rows[0]
    assert row[1:3] == ("pk1|http|res.partner.write", "idle in transaction")
    assert row[4] is not None and row[5] is not None  # query_start, xact_start
    assert JOB_SECRET not in repr(row)


@needs_db
def test_the_governor_role_has_nothing_more_than_it_needs():
    with connect(user=GOVERNOR_ROLE) as conn:
        assert conn.execute(contract.MISSING_PRIVILEGES_SQL).fetchall() == []
        assert conn.execute(contract.EXCESS_PRIVILEGES_SQL).fetchall() == []


def _check_contract_warnings(caplog) -> list[str]:
    """What the governor logs at start about its role's privileges."""
    from peak_governor.actuator import Actuator

    caplog.clear()
    with connect(user=GOVERNOR_ROLE) as conn, caplog.at_level("WARNING"):
        Actuator(conn.info.dbname, "roles-test", 60, 30).check_contract(conn)
    return [
        r.getMessage() for r in caplog.records if "more than it needs" in r.getMessage()
    ]


@needs_db
def test_an_upgrade_takes_back_what_earlier_versions_granted(caplog):
    """A role of an earlier release: pg_monitor, SELECT on queue_job and
    ir_config_parameter. The upgrade revokes the grants; the membership
    (only a superuser's to take) is what the governor warns about."""
    with superuser() as admin:
        admin.execute(f"GRANT pg_monitor TO {GOVERNOR_ROLE}")
        admin.execute(
            f"GRANT SELECT ON queue_job, ir_config_parameter TO {GOVERNOR_ROLE}"
        )
        try:
            with connect(user=GOVERNOR_ROLE) as conn:
                before = {r[0] for r in conn.execute(contract.EXCESS_PRIVILEGES_SQL)}
            _grant(PEAK_GOVERNOR_ROLE=GOVERNOR_ROLE)
            with connect(user=GOVERNOR_ROLE) as conn:
                after = {r[0] for r in conn.execute(contract.EXCESS_PRIVILEGES_SQL)}
            (warning,) = _check_contract_warnings(caplog)
        finally:
            admin.execute(f"REVOKE pg_monitor FROM {GOVERNOR_ROLE}")
        assert _check_contract_warnings(caplog) == []
    assert "membership in pg_monitor" in warning
    assert before >= {
        "membership in pg_monitor",
        "SELECT on queue_job",
        "SELECT on ir_config_parameter",
    }
    assert after == {"membership in pg_monitor", "membership in pg_read_all_stats"}


@needs_db
def test_keda_counts_queued_jobs_and_nothing_else(keda_role, job):
    expected = sql(
        "SELECT count(*) FROM queue_job WHERE state IN ('pending', 'enqueued')"
    )[0][0]
    with connect(user=keda_role) as conn:
        assert (
            conn.execute("SELECT peak_queue_pending_jobs()").fetchone()[0] == expected
        )
    assert expected >= 1
    refused = [
        "SELECT args FROM queue_job LIMIT 1",
        "SELECT * FROM peak_queue_lease",
        "SELECT * FROM peak_queue_settings()",
        "SELECT * FROM peak_queue_sessions()",
        "SELECT * FROM peak_queue_lease_acquire('root.bulk', 'keda', 'x', '{}', 60)",
        "SELECT peak_queue_lease_release(NULL, NULL, 'x')",
    ]
    for statement in refused:
        with connect(user=keda_role) as conn, pytest.raises(DENIED):
            conn.execute(statement)


# --- the deployments create the roles that way --------------------------------


def test_no_deployment_makes_the_governor_a_pg_monitor():
    initdb = (ROOT / "docker/postgres/initdb/10-peak-governor.sh").read_text()
    assert not re.search(r"\bIN ROLE\b|\bpg_monitor\b", initdb.split("<<'SQL'")[1])
    (cluster,) = [
        doc
        for doc in yaml.safe_load_all(
            (ROOT / "k8s/base/postgres-cluster.yaml").read_text()
        )
        if doc and doc["kind"] == "Cluster"
    ]
    roles = {role["name"]: role for role in cluster["spec"]["managed"]["roles"]}
    for name in ("peak_governor", "peak_keda"):
        assert not roles[name].get("inRoles"), name
        assert not roles[name]["superuser"], name
    secrets = {
        roles[n]["passwordSecret"]["name"] for n in ("peak_governor", "peak_keda")
    }
    assert len(secrets) == 2, "KEDA and the governor share a password"


@pytest.mark.parametrize("overlay", ["dedicated", "local", "shared"])
def test_keda_scales_with_its_own_role_and_the_count_function(overlay):
    docs = render(f"k8s/overlays/{overlay}")
    scaled = [d for d in docs if d["kind"] == "ScaledObject"]
    assert scaled
    for doc in scaled:
        namespace = doc["metadata"].get("namespace")
        (trigger,) = doc["spec"]["triggers"]
        assert trigger["metadata"]["userName"] == "peak_keda"
        assert trigger["metadata"]["query"] == "SELECT peak_queue_pending_jobs()"
        auth = named(
            docs,
            "TriggerAuthentication",
            trigger["authenticationRef"]["name"],
            namespace,
        )
        (ref,) = auth["spec"]["secretTargetRef"]
        assert ref["name"] == "odoo-peak-db-keda"
