"""docker/entrypoint.sh, run as is (no container engine): the odoo.conf it
renders, the flags it gives each role, the mistakes it refuses, and a real
Odoo 18 started from the project's virtualenv with the rendered config,
serving the `make test` database.
"""

import configparser
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pg import DB, needs_db

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
DB_PASSWORD = "s3cret-db-password-not-in-argv"


def base_env(tmp_path: Path, **extra) -> dict:
    """A clean environment: nothing from the caller's PEAK_* leaks in."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PEAK_ODOO_RC": str(tmp_path / "odoo.conf"),
        "PEAK_DB_HOST": "db.example",
        "PEAK_DB_USER": "odoo",
        "PEAK_DB_PASSWORD": DB_PASSWORD,
        "PEAK_DB_NAME": "peak",
    }
    env.update(extra)
    return env


def entrypoint(tmp_path, *args, stdin=None, timeout=60, **env):
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=base_env(tmp_path, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_conf(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def test_render_writes_a_private_config_and_role_flags(tmp_path):
    result = entrypoint(
        tmp_path,
        "render",
        PEAK_ODOO_ROLE="web",
        PEAK_ODOO_WORKERS="3",
        PEAK_DB_SSLMODE="require",
        PEAK_QUEUE_JOB_MAX_CAPACITY="5",
        PEAK_ODOO_LIMIT_TIME_REAL="600",
    )
    assert result.returncode == 0, result.stderr
    conf_path = tmp_path / "odoo.conf"
    assert stat.S_IMODE(conf_path.stat().st_mode) == 0o600
    conf = read_conf(conf_path)
    options = conf["options"]
    assert options["db_host"] == "db.example"
    assert options["db_password"] == DB_PASSWORD
    assert options["db_sslmode"] == "require"
    assert options["dbfilter"] == "^peak$"
    assert options["list_db"] == "False"
    assert options["limit_time_real"] == "600"
    assert len(options["admin_passwd"]) == 64  # random: database manager off
    assert "limit_memory_hard" not in options  # unset: Odoo's default
    assert conf["queue_job"]["max_capacity"] == "5"
    assert "channels" not in conf["queue_job"]  # channels live in the database
    flags = result.stdout.split()
    assert flags == [
        "--workers=3",
        "--max-cron-threads=0",
        "--load=base,web,peak_session_redis,peak_metrics",
    ]
    assert DB_PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "role,expected",
    [
        ("websocket", ["gevent", "--max-cron-threads=0"]),
        (
            "queue",
            [
                "--workers=3",  # max capacity 2 + one for the probes
                "--max-cron-threads=0",
                "--load=base,web,peak_session_redis,peak_metrics,queue_job,peak_queue",
            ],
        ),
        ("cron", ["--workers=1", "--no-http", "--max-cron-threads=2"]),
    ],
)
def test_each_role_gets_its_flags(tmp_path, role, expected):
    result = entrypoint(tmp_path, "render", PEAK_ODOO_ROLE=role)
    assert result.returncode == 0, result.stderr
    flags = result.stdout.split()
    assert flags[: len(expected)] == expected


def test_the_queue_role_runs_its_jobs_in_workers_of_its_own(tmp_path):
    """The runner dispatches /queue_job/runjob to its own server, which has
    a worker per job running at once plus one: a bulk backlog never takes a
    worker of the web service."""
    result = entrypoint(
        tmp_path,
        "render",
        PEAK_ODOO_ROLE="queue",
        PEAK_QUEUE_JOB_MAX_CAPACITY="4",
        PEAK_ODOO_HTTP_PORT="8169",
    )
    assert result.returncode == 0, result.stderr
    queue_job = read_conf(tmp_path / "odoo.conf")["queue_job"]
    assert (queue_job["host"], queue_job["port"]) == ("127.0.0.1", "8169")
    assert result.stdout.split()[0] == "--workers=5"
    # Jobs on the web service instead, the earlier layout: still possible.
    result = entrypoint(
        tmp_path,
        "render",
        PEAK_ODOO_ROLE="queue",
        PEAK_QUEUE_JOB_HOST="odoo-web",
        PEAK_QUEUE_JOB_PORT="8069",
        PEAK_ODOO_WORKERS="2",
    )
    assert result.returncode == 0, result.stderr
    assert read_conf(tmp_path / "odoo.conf")["queue_job"]["host"] == "odoo-web"
    assert result.stdout.split()[0] == "--workers=2"


def test_admin_password_is_random_unless_given(tmp_path):
    first = entrypoint(tmp_path, "render")
    one = read_conf(tmp_path / "odoo.conf")["options"]["admin_passwd"]
    second = entrypoint(tmp_path, "render")
    two = read_conf(tmp_path / "odoo.conf")["options"]["admin_passwd"]
    assert first.returncode == second.returncode == 0
    assert one != two
    given = entrypoint(tmp_path, "render", PEAK_ODOO_ADMIN_PASSWORD="master-pw")
    assert given.returncode == 0
    assert read_conf(tmp_path / "odoo.conf")["options"]["admin_passwd"] == "master-pw"


@pytest.mark.parametrize(
    "env,message",
    [
        (
            {"PEAK_DB_PASSWORD": ""},
            "required environment variable PEAK_DB_PASSWORD is not set",
        ),
        ({"PEAK_DB_NAME": "odoo\nadmin_passwd = x"}, "contains a newline"),
        ({"PEAK_ODOO_WORKERS": "1"}, "PEAK_ODOO_WORKERS >= 2"),
        ({"PEAK_ODOO_WORKERS": "two"}, "PEAK_ODOO_WORKERS >= 2"),
        ({"PEAK_ODOO_ROLE": "worker"}, "unknown PEAK_ODOO_ROLE 'worker'"),
        (
            {"PEAK_ODOO_ROLE": "queue", "PEAK_ODOO_WORKERS": "1"},
            "the queue role needs PEAK_ODOO_WORKERS >= 2",
        ),
        (
            {"PEAK_ODOO_ROLE": "queue", "PEAK_QUEUE_JOB_MAX_CAPACITY": "lots"},
            "PEAK_QUEUE_JOB_MAX_CAPACITY must be a whole number",
        ),
        ({"PEAK_ODOO_PROXY_MODE": "maybe"}, "not a boolean: 'maybe'"),
        (
            {"PEAK_DB_SSLMODE": "verify-full"},
            "PEAK_DB_SSLMODE=verify-full needs PGSSLROOTCERT",
        ),
    ],
)
def test_bad_settings_are_refused_and_leave_no_config(tmp_path, env, message):
    result = entrypoint(tmp_path, "render", **env)
    assert result.returncode == 64
    assert message in result.stderr
    assert result.stderr.count("\n") == 1  # one clear line
    assert DB_PASSWORD not in result.stderr
    if "newline" in message or "PEAK_DB_PASSWORD" in message:
        assert not list(tmp_path.glob("odoo.conf*"))


@pytest.mark.parametrize(
    "command,variable",
    [
        ("init", "PEAK_ODOO_INIT_MODULES"),
        ("upgrade", "PEAK_ODOO_UPGRADE_MODULES"),
    ],
)
def test_init_and_upgrade_need_their_module_list(tmp_path, command, variable):
    result = entrypoint(tmp_path, command, ODOO_BIN="/bin/false")
    assert result.returncode == 64
    assert f"required environment variable {variable} is not set" in result.stderr
    assert not (tmp_path / "odoo.conf").exists()


def test_relative_metrics_dir_is_refused(tmp_path):
    # `render` does not touch the directory; starting a role does.
    result = entrypoint(
        tmp_path,
        "--stop-after-init",
        PEAK_ODOO_ROLE="web",
        PROMETHEUS_MULTIPROC_DIR="relative/dir",
        ODOO_BIN="/bin/false",
    )
    assert result.returncode == 64
    assert "PROMETHEUS_MULTIPROC_DIR must be an absolute path" in result.stderr


def _free_port() -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    from peak_dev.processes import free_port

    return free_port()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


@needs_db
def test_odoo_starts_from_the_rendered_config(tmp_path):
    """The web role, exactly as the image runs it: entrypoint -> exec odoo-bin
    with the rendered config, prefork workers, the suite's server-wide
    modules; /web/health and /web/login answer, stale multiprocess metric
    files are wiped, the password is not in the process list, SIGTERM stops
    it promptly."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from peak_dev.odoo import addons_path
    from peak_dev.settings import load

    import odoo

    odoo_bin = Path(odoo.__file__).resolve().parents[1] / "odoo-bin"
    http_port, gevent_port = _free_port(), _free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_4242.db").write_bytes(b"stale")
    (metrics_dir / "keep.txt").write_text("not ours")
    env = base_env(
        tmp_path,
        ODOO_BIN=str(odoo_bin),
        PEAK_ODOO_ROLE="web",
        PEAK_ODOO_WORKERS="2",
        PEAK_DB_HOST=os.environ.get("PEAK_DB_HOST") or "/var/run/postgresql",
        PEAK_DB_PORT=os.environ.get("PEAK_DB_PORT", "5432"),
        PEAK_DB_USER=os.environ.get("PEAK_DB_USER", "peak"),
        PEAK_DB_NAME=DB,
        PEAK_ODOO_HTTP_PORT=str(http_port),
        PEAK_ODOO_GEVENT_PORT=str(gevent_port),
        PEAK_ODOO_ADDONS_PATH=addons_path(load()),
        PEAK_ODOO_DATA_DIR=str(tmp_path / "data"),
        PEAK_ODOO_PROXY_MODE="false",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    log = open(tmp_path / "odoo.log", "w")
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = _get(f"http://127.0.0.1:{http_port}/web/health")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, (tmp_path / "odoo.log").read_text()[-3000:]
        assert _get(f"http://127.0.0.1:{http_port}/web/login") == 200
        # exec: the entrypoint's PID is Odoo's; its argv holds no secret.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        assert "odoo-bin" in cmdline and "--workers=2" in cmdline
        assert DB_PASSWORD not in cmdline
        assert not (metrics_dir / "counter_4242.db").exists()
        assert (metrics_dir / "keep.txt").exists()
        logged = (tmp_path / "odoo.log").read_text()
        assert "starting role 'web'" in logged
        assert DB_PASSWORD not in logged
    finally:
        stopped_in_time = True
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stopped_in_time = False
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
    assert stopped_in_time, "Odoo did not stop within 20 s of SIGTERM"


ADMIN_PASSWORD = "a-long-admin-secret-not-admin"


@pytest.mark.parametrize(
    "env,message",
    [
        ({}, "init needs the administrator's password"),
        ({"PEAK_ADMIN_PASSWORD": "short"}, "12 characters or more"),
        ({"PEAK_ADMIN_PASSWORD_FILE": "/nonexistent"}, "is not readable"),
    ],
)
def test_init_refuses_to_leave_the_default_administrator(tmp_path, env, message):
    result = entrypoint(
        tmp_path, "init", ODOO_BIN="/bin/false", PEAK_ODOO_INIT_MODULES="base", **env
    )
    assert result.returncode == 64
    assert message in result.stderr
    assert not (tmp_path / "odoo.conf").exists()  # refused before anything


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_init_reads_the_administrator_password_from_a_file(tmp_path, source):
    """A mounted secret, or stdin (`kubectl exec -i`, k8s/README.md)."""
    secret = tmp_path / "admin-password"
    secret.write_text(ADMIN_PASSWORD + "\n")
    result = entrypoint(
        tmp_path,
        "init",
        stdin=ADMIN_PASSWORD + "\n" if source == "stdin" else None,
        ODOO_BIN="/bin/false",
        PEAK_ODOO_INIT_MODULES="base",
        PEAK_ADMIN_PASSWORD_FILE=str(secret) if source == "file" else "/dev/stdin",
        PEAK_DB_HOST="127.0.0.1",
        PEAK_DB_PORT="1",  # nothing listens: the step after the password check
    )
    assert result.returncode == 64, result.stderr
    assert "administrator's password" not in result.stderr
    assert "cannot read the installed modules of 'peak'" in result.stderr
    assert ADMIN_PASSWORD not in result.stderr + result.stdout


def _admin_hash(database: str) -> str:
    from pg import sql

    return sql(
        "SELECT password FROM res_users WHERE login = 'admin'", database=database
    )[0][0]


def init_env(tmp_path, database: str, modules: str) -> dict:
    """The entrypoint run on this host against a database of its own."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from peak_dev.odoo import addons_path
    from peak_dev.settings import load

    import odoo

    odoo_bin = Path(odoo.__file__).resolve().parents[1] / "odoo-bin"
    return {
        "ODOO_BIN": str(odoo_bin),
        "PEAK_DB_HOST": os.environ.get("PEAK_DB_HOST") or "/var/run/postgresql",
        "PEAK_DB_PORT": os.environ.get("PEAK_DB_PORT", "5432"),
        "PEAK_DB_USER": os.environ.get("PEAK_DB_USER", "peak"),
        "PEAK_DB_NAME": database,
        "PEAK_ODOO_ADDONS_PATH": addons_path(load()),
        "PEAK_ODOO_DATA_DIR": str(tmp_path / "data"),
        "PEAK_ODOO_INIT_MODULES": modules,
    }


@needs_db
def test_init_gives_a_fresh_database_the_administrator_password(tmp_path):
    """The probe of the issue: a database made by Odoo alone keeps admin/admin
    (the doctor fails); `init` replaces it with PEAK_ADMIN_PASSWORD (the
    doctor passes), and a password changed since is never overwritten."""
    from pg import sql

    from peak_governor.doctor.accounts import accepts

    database = f"{DB}_init"[:63]
    env = init_env(tmp_path, database, "base")
    sql(f'DROP DATABASE IF EXISTS "{database}"')
    try:
        bare = entrypoint(tmp_path, "odoo", "-i", "base", "--stop-after-init", **env)
        assert bare.returncode == 0, bare.stderr[-2000:]
        assert accepts(_admin_hash(database), "admin")  # what the issue found

        first = entrypoint(tmp_path, "init", PEAK_ADMIN_PASSWORD=ADMIN_PASSWORD, **env)
        assert first.returncode == 0, first.stderr[-2000:]
        assert "administrator password set" in first.stdout
        stored = _admin_hash(database)
        assert accepts(stored, ADMIN_PASSWORD) and not accepts(stored, "admin")
        assert ADMIN_PASSWORD not in first.stdout + first.stderr

        again = entrypoint(
            tmp_path, "init", PEAK_ADMIN_PASSWORD="another-long-secret", **env
        )
        assert again.returncode == 0, again.stderr[-2000:]
        assert "already has base" in again.stderr  # no -i: data not reloaded
        assert "already changed: kept" in again.stdout
        assert accepts(_admin_hash(database), ADMIN_PASSWORD)
    finally:
        sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_upgrade_loads_the_change_freeze_guard(tmp_path):
    """peak_governance checks -u before Odoo writes (its own tests run the
    guard); the entrypoint must load it server-wide for the rollout Job."""
    result = entrypoint(
        tmp_path,
        "upgrade",
        ODOO_PYTHON="echo",  # prints the command instead of running Odoo
        PEAK_ODOO_UPGRADE_MODULES="peak_base",
    )
    assert result.returncode == 0, result.stderr
    argv = result.stdout.split()
    assert "--load=base,web,peak_governance" in argv
    assert argv[argv.index("-u") + 1] == "peak_base"


@pytest.mark.parametrize(
    "role,channels",
    [("web", "root:0"), ("websocket", "root:0"), ("cron", "root:0"), ("queue", "")],
)
def test_only_the_queue_role_runs_a_job_runner(tmp_path, role, channels):
    """queue_job starts a runner in any prefork Odoo of its database unless
    its channels say root:0 (the image test saw web's runner win the
    election); the queue role keeps channels from the database."""
    fake_odoo = tmp_path / "odoo-bin"
    fake_odoo.write_text('printf "channels=%s\\n" "${ODOO_QUEUE_JOB_CHANNELS:-}"\n')
    result = entrypoint(
        tmp_path, PEAK_ODOO_ROLE=role, ODOO_PYTHON="sh", ODOO_BIN=str(fake_odoo)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"channels={channels}"


@needs_db
def test_init_moves_what_it_wrote_locally_to_s3(tmp_path, seaweed_s3):
    """Installing base writes attachments (the company logo…) to the local
    filestore before peak_attachment_s3 exists; in k8s init's data dir is an
    emptyDir, gone with the pod. init moves them to S3 before it ends."""
    from peak_dev.seaweed import s3_environ
    from pg import sql

    database = f"{DB}_s3init"[:63]
    env = init_env(tmp_path, database, "peak_attachment_s3")
    env.update(s3_environ(seaweed_s3, f"{database}/"))
    local = (
        "SELECT count(*) FROM ir_attachment WHERE type = 'binary' "
        "AND store_fname IS NOT NULL AND store_fname NOT LIKE 's3://%%'"
    )
    sql(f'DROP DATABASE IF EXISTS "{database}"')
    try:
        done = entrypoint(
            tmp_path, "init", PEAK_ADMIN_PASSWORD=ADMIN_PASSWORD, timeout=600, **env
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "local attachments moved to S3" in done.stdout, done.stdout
        assert sql(local, database=database)[0][0] == 0
        in_s3 = sql(
            "SELECT count(*) FROM ir_attachment WHERE store_fname LIKE 's3://%%'",
            database=database,
        )[0][0]
        assert in_s3 > 0
    finally:
        sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@needs_db
def test_the_sync_windows_export_runs_through_the_entrypoint(tmp_path):
    """The command k8s/README.md gives ("GitOps with Argo CD"): the image's
    `odoo` command with the addon's CLI, on the database of the config."""
    import yaml

    env = init_env(tmp_path, DB, "base")
    done = entrypoint(
        tmp_path,
        "odoo",
        f"--addons-path={env['PEAK_ODOO_ADDONS_PATH']}",
        "peak_sync_windows",
        "--log-level=warn",
        timeout=180,
        **env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    project = yaml.safe_load(done.stdout)
    assert project["kind"] == "AppProject"
    assert project["metadata"]["name"] == "odoo-peak"
    assert isinstance(project["spec"]["syncWindows"], list)
