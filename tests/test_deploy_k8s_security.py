"""Transport security of the rendered overlays (issue #24, item 6).

PostgreSQL: Odoo, its upgrade Job and the governor check the server's
certificate (verify-full) against the CA CloudNativePG publishes for the
cluster, mounted without its key. Dedicated Redis: the Sentinels want a
password, both servers speak TLS only, and maxmemory (which volatile-ttl
needs) stays below the container's memory limit; Odoo pods get what it takes
to connect. The Redis configuration is the one the overlay's own scripts
write (run here with stand-ins for redis-server and redis-cli).
"""

import os
import subprocess
from pathlib import Path

import pytest
from test_deploy_k8s import (
    OVERLAYS,
    config_data,
    named,
    namespaces,
    of_kind,
    quantity,
    render,
)


@pytest.fixture(scope="module")
def overlays():
    return {name: render(f"k8s/overlays/{name}") for name in OVERLAYS}


def pod_specs(docs, ns):
    """(name, pod spec) of every Odoo and governor workload in ``ns``."""
    out = [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in of_kind(docs, "Deployment", ns)
        if d["metadata"]["labels"]["app.kubernetes.io/name"]
        in ("odoo", "peak-governor")
    ]
    cronjob = named(docs, "CronJob", "odoo-upgrade", ns)
    out.append(
        ("odoo-upgrade", cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    )
    return out


def secret_file(pod: dict, container: dict, path: str) -> tuple[str, str]:
    """(Secret, key) behind ``path`` in ``container``; the volume must
    project that key alone (CloudNativePG's CA Secret also holds its key)."""
    directory, filename = os.path.split(path)
    mount = next(
        (m for m in container.get("volumeMounts", []) if m["mountPath"] == directory),
        None,
    )
    assert mount, f"{container['name']}: nothing mounted at {directory}"
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    secret = volume["secret"]
    (item,) = secret["items"]
    assert item["path"] == filename
    return secret["secretName"], item["key"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_database_connections_verify_the_cluster_certificate(overlays, overlay):
    docs = overlays[overlay]
    for ns in namespaces(docs):
        config = config_data(docs, ns)
        cluster = named(docs, "Cluster", "odoo-peak-db", ns)["metadata"]["name"]
        ca = (f"{cluster}-ca", "ca.crt")
        assert config["PEAK_DB_SSLMODE"] == "verify-full"
        dsn = dict(item.split("=", 1) for item in config["PEAK_GOVERNOR_DSN"].split())
        assert dsn["sslmode"] == "verify-full"
        assert dsn["host"] == config["PEAK_DB_HOST"]  # a name the certificate has
        checked = 0
        for name, pod in pod_specs(docs, ns):
            container = pod["containers"][0]
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if name == "peak-governor":
                root = dsn["sslrootcert"]
            else:
                root = env.get("PGSSLROOTCERT")
                assert root, f"{ns}/{name}: libpq has no CA to verify with"
            assert secret_file(pod, container, root) == ca, f"{ns}/{name}"
            checked += 1
        assert checked == 6, f"{ns}: 4 Odoo Deployments, the upgrade Job, governor"


def test_dedicated_redis_wants_passwords_and_tls_everywhere(overlays):
    docs = overlays["dedicated"]
    statefulset = named(docs, "StatefulSet", "redis", "odoo-peak")
    pod = statefulset["spec"]["template"]["spec"]
    for container in pod["containers"]:
        env = {e["name"]: e for e in container["env"]}
        ref = env["SENTINEL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {
            "name": "odoo-peak-secrets",
            "key": "PEAK_REDIS_SENTINEL_PASSWORD",
        }
        assert "REDISCLI_AUTH" not in env  # the probe script picks the password
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tls")
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == "redis-tls"
        probe = container["readinessProbe"]["exec"]["command"]
        assert probe[:2] == ["sh", "/scripts/ping.sh"]
    config = config_data(docs, "odoo-peak")
    assert config["PEAK_REDIS_SENTINEL_TLS"] == "true"
    for name, pod in pod_specs(docs, "odoo-peak"):
        if name == "peak-governor":
            continue
        container = pod["containers"][0]
        ca = secret_file(pod, container, config["PEAK_REDIS_TLS_CA_FILE"])
        assert ca == ("redis-tls", "ca.crt"), name
        if name != "odoo-upgrade":  # -u connects to nothing
            env = {e["name"]: e for e in container["env"]}
            ref = env["PEAK_REDIS_SENTINEL_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert ref == {
                "name": "odoo-peak-secrets",
                "key": "PEAK_REDIS_SENTINEL_PASSWORD",
            }


def _written_config(tmp_path: Path, scripts: dict, script: str, env: dict) -> str:
    """The file ``script`` hands redis-server, without starting anything."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "redis-server").write_text('#!/bin/sh\ncat "$1"\n')
    (bin_dir / "redis-cli").write_text("#!/bin/sh\nexit 1\n")  # no Sentinel yet
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    for sub in ("conf", "data", "sentinel"):
        (tmp_path / sub).mkdir(exist_ok=True)
    out = subprocess.run(
        ["sh", str(tmp_path / script)],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "REDIS_SERVICE": "redis-headless.odoo-peak.svc.cluster.local",
            "REDIS_MASTER_NAME": "peak-sessions",
            "REDIS_SELF": "redis-0.redis-headless.odoo-peak.svc.cluster.local",
            "REDIS_CONF_DIR": str(tmp_path / "conf"),
            "REDIS_DATA_DIR": str(tmp_path / "data"),
            "SENTINEL_DIR": str(tmp_path / "sentinel"),
            "REDIS_PASSWORD": "redis-pw",
            "SENTINEL_PASSWORD": "sentinel-pw",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def test_dedicated_redis_configuration_as_the_scripts_write_it(overlays, tmp_path):
    docs = overlays["dedicated"]
    scripts = named(docs, "ConfigMap", "redis-sentinel-scripts", "odoo-peak")["data"]
    pod = named(docs, "StatefulSet", "redis", "odoo-peak")["spec"]["template"]["spec"]
    redis = next(c for c in pod["containers"] if c["name"] == "redis")
    ref = next(e for e in redis["env"] if e["name"] == "REDIS_MEMORY_LIMIT_MB")
    field = ref["valueFrom"]["resourceFieldRef"]
    assert (field["containerName"], field["resource"]) == ("redis", "limits.memory")
    limit = quantity(redis["resources"]["limits"]["memory"])
    limit_mb = int(limit // quantity(field["divisor"]))

    conf = _written_config(
        tmp_path, scripts, "redis.sh", {"REDIS_MEMORY_LIMIT_MB": str(limit_mb)}
    )
    lines = dict(line.split(" ", 1) for line in conf.splitlines() if " " in line)
    assert lines["port"] == "0" and lines["tls-port"] == "6379"
    assert lines["tls-replication"] == "yes"
    assert lines["requirepass"] == lines["masterauth"] == "redis-pw"
    assert lines["maxmemory-policy"] == "volatile-ttl"
    maxmemory = quantity(lines["maxmemory"].replace("mb", "Mi"))
    assert 0 < maxmemory <= 0.75 * limit  # headroom for fork and buffers

    conf = _written_config(tmp_path, scripts, "sentinel.sh", {})
    lines = dict(line.split(" ", 1) for line in conf.splitlines() if " " in line)
    assert lines["port"] == "0" and lines["tls-port"] == "26379"
    assert lines["requirepass"] == "sentinel-pw"
    assert lines["tls-replication"] == "yes"  # to the servers and other Sentinels
    assert "sentinel auth-pass peak-sessions redis-pw" in conf
