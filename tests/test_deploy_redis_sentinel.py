"""The dedicated overlay's Redis Sentinel bootstrap, run for real.

The scripts of ConfigMap redis-sentinel-scripts (taken from the rendered
overlay, unchanged) start three Redis servers and three Sentinels from the
Debian redis-server on loopback ports, as the three StatefulSet pods would.
Everything speaks TLS only, and the Sentinels want their own password.
Checked: the first start elects redis-0, replicas follow it, a killed master
is replaced by the Sentinels, the old master rejoins as a replica, and
sessions written through the client peak_session_redis builds
(``peak_settings.redis.make_client`` from the PEAK_REDIS_* an Odoo pod gets)
survive the failover; without the Sentinels' password or without TLS nobody
gets an answer; maxmemory is set below the container's limit.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from peak_dev.processes import Child, free_port, self_signed_certificate  # noqa: E402

from peak_settings import redis as redis_settings  # noqa: E402

NODES = 3
MEMORY_LIMIT_MB = 64  # what the pod's resourceFieldRef would give
pytestmark = pytest.mark.skipif(
    not shutil.which("redis-server"), reason="needs redis-server (Debian package)"
)


def _overlay_scripts():
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s/overlays/dedicated")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    scripts = next(
        d["data"] for d in docs if d["metadata"]["name"] == "redis-sentinel-scripts"
    )
    config = next(
        d["data"]
        for d in docs
        if d["kind"] == "ConfigMap"
        and d["metadata"]["name"].startswith("odoo-peak-config")
    )
    return scripts, config["PEAK_REDIS_SENTINEL_MASTER"]


class SentinelSet:
    """Three "pods" (a Redis and a Sentinel each) on loopback ports."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        scripts, self.master_name = _overlay_scripts()
        self.script_dir = tmp / "scripts"
        self.script_dir.mkdir()
        for name, text in scripts.items():
            (self.script_dir / name).write_text(text)
        self.password = secrets.token_hex(16)
        self.sentinel_password = secrets.token_hex(16)
        # cert-manager's layout; the self-signed certificate is its own CA.
        self.tls_dir = tmp / "tls"
        self_signed_certificate(self.tls_dir / "tls.crt", self.tls_dir / "tls.key")
        shutil.copy(self.tls_dir / "tls.crt", self.tls_dir / "ca.crt")
        self.redis_ports = [free_port() for _ in range(NODES)]
        self.sentinel_ports = [free_port() for _ in range(NODES)]
        self.children: dict[tuple[str, int], Child] = {}

    def env(self, i: int) -> dict:
        node = self.tmp / f"redis-{i}"
        for sub in ("conf", "data", "sentinel"):
            (node / sub).mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ["PATH"],
            "REDIS_SERVICE": "unused.invalid",
            "REDIS_MASTER_NAME": self.master_name,
            "REDIS_PASSWORD": self.password,
            "SENTINEL_PASSWORD": self.sentinel_password,
            "REDIS_TLS_DIR": str(self.tls_dir),
            "REDIS_MEMORY_LIMIT_MB": str(MEMORY_LIMIT_MB),
            "REDIS_SELF": "127.0.0.1",
            "REDIS_BIND": "127.0.0.1",
            "REDIS_PORT": str(self.redis_ports[i]),
            "SENTINEL_PORT": str(self.sentinel_ports[i]),
            "REDIS_CONF_DIR": str(node / "conf"),
            "REDIS_DATA_DIR": str(node / "data"),
            "SENTINEL_DIR": str(node / "sentinel"),
            "SENTINEL_PEERS": " ".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
            "REDIS_BOOTSTRAP_MASTER": f"127.0.0.1 {self.redis_ports[0]}",
        }

    def start(self, kind: str, i: int):
        script = self.script_dir / ("redis.sh" if kind == "redis" else "sentinel.sh")
        child = Child(
            f"{kind}-{i}",
            ["sh", str(script)],
            self.tmp / f"{kind}-{i}.log",
            env=self.env(i),
        ).start()
        self.children[(kind, i)] = child
        # The pod's own probe script.
        probe = ["sh", str(self.script_dir / "ping.sh"), kind]
        wait_until(
            lambda: subprocess.run(probe, env=self.env(i), timeout=5).returncode == 0,
            f"{kind}-{i} answers its probe",
            child=child,
        )

    def start_pod(self, i: int):
        self.start("redis", i)
        self.start("sentinel", i)

    def kill(self, kind: str, i: int):
        child = self.children.pop((kind, i))
        os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait(timeout=10)

    def stop(self):
        for child in self.children.values():
            child.stop(grace_s=3)

    def client(self, port: int, password=None, tls=True) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            password=password,
            socket_timeout=2,
            decode_responses=True,
            **(
                {"ssl": True, "ssl_ca_certs": str(self.tls_dir / "ca.crt")}
                if tls
                else {}
            ),
        )

    def redis_client(self, i: int) -> redis.Redis:
        return self.client(self.redis_ports[i], self.password)

    def sentinel_client(self, i: int) -> redis.Redis:
        return self.client(self.sentinel_ports[i], self.sentinel_password)

    def sentinel_master(self, i: int):
        return self.sentinel_client(i).sentinel_get_master_addr_by_name(
            self.master_name
        )

    def odoo_env(self) -> dict:
        """PEAK_REDIS_* as an Odoo pod of the overlay gets them."""
        return {
            "PEAK_REDIS_SENTINELS": ",".join(
                f"127.0.0.1:{p}" for p in self.sentinel_ports
            ),
            "PEAK_REDIS_SENTINEL_MASTER": self.master_name,
            "PEAK_REDIS_SENTINEL_TLS": "true",
            "PEAK_REDIS_TLS_CA_FILE": str(self.tls_dir / "ca.crt"),
            "PEAK_REDIS_PASSWORD": self.password,
            "PEAK_REDIS_SENTINEL_PASSWORD": self.sentinel_password,
        }

    def sessions(self, timeout: float = 1.0) -> redis.Redis:
        """Connected the way peak_session_redis connects."""
        cfg = redis_settings.load(self.odoo_env(), {})
        return redis_settings.make_client(cfg, timeout=timeout)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()


def wait_until(check, what: str, timeout_s: float = 30.0, child: Child | None = None):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise AssertionError(
                f"{child.name} exited: {child.log_path.read_text()[-2000:]}"
            )
        try:
            value = check()
            if value:
                return value
        except (redis.RedisError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting until {what} (last error: {last})")


@pytest.fixture
def sentinel_set(tmp_path):
    nodes = SentinelSet(tmp_path)
    try:
        yield nodes
    finally:
        nodes.stop()


def test_bootstrap_failover_and_rejoin(sentinel_set):
    nodes = sentinel_set
    # OrderedReady: redis-0 first; nobody knows a master, so redis-0 is it.
    for i in range(NODES):
        nodes.start_pod(i)
    first = ("127.0.0.1", nodes.redis_ports[0])
    assert nodes.redis_client(0).info("replication")["role"] == "master"
    for i in (1, 2):
        info = nodes.redis_client(i).info("replication")
        assert info["role"] == "slave"
        assert info["master_port"] == nodes.redis_ports[0]
        expected = f"master is 127.0.0.1 {nodes.redis_ports[0]}"
        assert expected in nodes.log(f"redis-{i}")
    wait_until(
        lambda: all(
            nodes.redis_client(i).info("replication")["master_link_status"] == "up"
            for i in (1, 2)
        ),
        "both replicas are in sync",
    )
    for i in range(NODES):
        assert nodes.sentinel_master(i) == first

    # The Sentinels find each other (quorum 2 needs them to) and learn the
    # replicas from the master (INFO every 10 s).
    def settled():
        for i in range(NODES):
            state = nodes.sentinel_client(i).sentinel_master(nodes.master_name)
            if int(state["num-other-sentinels"]) != NODES - 1:
                return False
            if int(state["num-slaves"]) != NODES - 1:
                return False
        return True

    wait_until(settled, "every Sentinel knows the others and both replicas")

    sessions = nodes.sessions(timeout=5.0)
    sessions.set("peak:session:abc", '{"uid": 2}', ex=3600)
    assert sessions.wait(2, 2000) == 2  # on both replicas before the crash

    # The master dies: the Sentinels promote a replica (11 s down-after).
    nodes.kill("redis", 0)
    new_master = wait_until(
        lambda: (addr := nodes.sentinel_master(1)) != first and addr,
        "a replica is promoted",
        timeout_s=60,
    )
    assert new_master[1] in nodes.redis_ports[1:]
    promoted = nodes.redis_ports.index(new_master[1])
    assert nodes.redis_client(promoted).info("replication")["role"] == "master"

    # The client follows the Sentinels; the session survived.
    sessions = nodes.sessions()
    assert wait_until(lambda: sessions.get("peak:session:abc"), "read after failover")

    # The pod restarts: its script asks the Sentinels and rejoins as a replica
    # (directly, or demoted by the Sentinels if one still named it master).
    nodes.start("redis", 0)
    info = wait_until(
        lambda: (i := nodes.redis_client(0).info("replication"))["role"] == "slave"
        and i["master_link_status"] == "up"
        and i,
        "the old master replicates the new one",
    )
    assert info["master_port"] == new_master[1]
    assert nodes.redis_client(0).get("peak:session:abc") == '{"uid": 2}'
    # Nothing of the password in the files others could read.
    conf = Path(nodes.env(0)["REDIS_CONF_DIR"]) / "redis.conf"
    assert conf.stat().st_mode & 0o077 == 0


def test_sentinels_want_their_password_and_tls_redis_a_memory_limit(sentinel_set):
    nodes = sentinel_set
    nodes.start_pod(0)
    master = ("127.0.0.1", nodes.redis_ports[0])
    # Odoo's client authenticates to the Sentinels, over TLS, then to Redis.
    sessions = nodes.sessions()
    assert sessions.set("peak:session:x", "1", ex=60) and sessions.get("peak:session:x")
    # No answer without the Sentinels' password (Redis' does not do either).
    for password in (None, nodes.password):
        anonymous = nodes.client(nodes.sentinel_ports[0], password)
        with pytest.raises(redis.exceptions.AuthenticationError):
            anonymous.sentinel_get_master_addr_by_name(nodes.master_name)
    assert nodes.sentinel_master(0) == master
    wrong = dict(nodes.odoo_env(), PEAK_REDIS_SENTINEL_PASSWORD="wrong")
    client = redis_settings.make_client(redis_settings.load(wrong, {}), timeout=1)
    with pytest.raises(redis.exceptions.RedisError):
        client.ping()
    # Plain text is refused on both ports.
    for port in (nodes.redis_ports[0], nodes.sentinel_ports[0]):
        with pytest.raises(redis.exceptions.ConnectionError):
            nodes.client(port, nodes.password, tls=False).ping()
    # volatile-ttl only evicts once there is a limit: below the container's.
    config = nodes.redis_client(0).config_get("maxmemory*")
    assert config["maxmemory-policy"] == "volatile-ttl"
    assert 0 < int(config["maxmemory"]) < MEMORY_LIMIT_MB * 2**20
