"""The tooling behind `make run` / `make test`: settings and the embedded S3."""

import os
import subprocess
import sys

import pytest
import yaml
from peak_dev import edge, processes, settings
from peak_dev.seaweed import SeaweedS3


def test_defaults_are_valid(monkeypatch):
    for name in ("PEAK_DB", "PEAK_HTTP_PORT", "PEAK_DB_USER", "PEAK_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    loaded = settings.load()
    assert (loaded.db_name, loaded.db_user, loaded.http_port) == ("peak", "peak", 8069)
    assert loaded.workers >= 2


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PEAK_HTTP_PORT", "80x", "not a TCP port"),
        ("PEAK_HTTP_PORT", "70000", "not a TCP port"),
        ("PEAK_EDGE_PORT", "web", "not a TCP port"),
        ("PEAK_DB", "peak; drop", "not a valid database name"),
        ("PEAK_DB_USER", "postgres", "refuses"),
        ("PEAK_WORKERS", "1", ">= 2"),
        ("PEAK_WORKERS", "zero", "whole number"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    monkeypatch, name, value, message
):
    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError, match=message):
        settings.load()


def test_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("PEAK_DB_PASSWORD", "hunter2")
    monkeypatch.setenv("PEAK_S3_SECRET_KEY", "s3cr3t")
    masked = settings.load().masked()
    assert "hunter2" not in masked.values() and "s3cr3t" not in masked.values()
    assert masked["db_password"] == masked["s3_secret_key"] == "***"


def test_embedded_s3_stores_and_returns_bytes(seaweed_s3):
    client = seaweed_s3.client()
    bucket = seaweed_s3.credentials.bucket
    client.put_object(Bucket=bucket, Key="ab/abcdef", Body=b"label.pdf bytes")
    body = client.get_object(Bucket=bucket, Key="ab/abcdef")["Body"].read()
    assert body == b"label.pdf bytes"


def test_embedded_s3_refuses_wrong_credentials(seaweed_s3):
    import boto3
    from botocore.exceptions import ClientError

    intruder = boto3.client(
        "s3",
        endpoint_url=seaweed_s3.credentials.endpoint_url,
        aws_access_key_id="nobody",
        aws_secret_access_key="wrong",
        region_name="us-east-1",
    )
    with pytest.raises(ClientError):
        intruder.list_objects_v2(Bucket=seaweed_s3.credentials.bucket)


def test_governor_command_is_installed():
    done = subprocess.run(
        [sys.executable, "-m", "peak_governor.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip().startswith("peak-governor 0.")


def _time_wait_on(port: int) -> None:
    """Leave a connection in TIME_WAIT on ``port``, as a stopped Odoo does:
    the server side closes first, then its listener goes away."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # active close: the TIME_WAIT stays on the server's port
    client.recv(1)
    client.close()
    listener.close()


def _time_wait_ports() -> set[int]:
    done = subprocess.run(
        ["ss", "-Htan", "state", "time-wait"], capture_output=True, text=True
    )
    return {int(line.split()[2].rsplit(":", 1)[1]) for line in done.stdout.splitlines()}


def test_port_left_in_time_wait_counts_as_free_for_a_restart():
    port = processes.free_port()
    _time_wait_on(port)
    assert port in _time_wait_ports()  # the situation of a quick restart
    assert processes.port_is_free(port)


def test_port_with_a_listener_is_reported_in_use():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        assert not processes.port_is_free(listener.getsockname()[1])


def test_embedded_s3_stops_promptly_and_keeps_its_objects(tmp_path):
    import hashlib

    server = SeaweedS3(tmp_path / "s3", bucket="peak-restart")
    server.start()
    bucket = server.credentials.bucket
    written = {}
    try:
        client = server.client()
        for index in range(12):
            body = os.urandom(40_000)
            client.put_object(Bucket=bucket, Key=f"labels/{index}", Body=body)
            written[f"labels/{index}"] = hashlib.sha1(body).hexdigest()
    finally:
        server.stop()
    assert not server.alive() and not server.gateway.alive()
    # Stopped in order, no SIGTERM left waiting: the log says so.
    assert "ignored SIGTERM" not in (tmp_path / "s3" / "seaweedfs-s3.log").read_text()

    again = SeaweedS3(tmp_path / "s3", bucket="peak-restart").start()
    try:
        client = again.client()
        for key, sha in written.items():
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert hashlib.sha1(body).hexdigest() == sha, key
    finally:
        again.stop()


def test_embedded_s3_refuses_a_bad_bucket_name_at_once(tmp_path):
    server = SeaweedS3(tmp_path / "s3", bucket="no")  # S3 wants 3 characters
    with pytest.raises(RuntimeError, match="InvalidBucketName"):
        server.start()
    assert not server.alive()


def test_an_install_is_judged_by_its_own_log_lines(tmp_path):
    """The install log is appended to across `make run` starts: an ERROR left
    by an earlier failed start must not fail the next, healthy one."""
    from peak_dev.odoo import log_lines_since

    log = tmp_path / "odoo-init.log"
    log.write_text("2026-11-30 08:00:00,000 1 ERROR peak odoo.modules: old failure\n")
    start = log.stat().st_size
    with open(log, "a") as handle:
        handle.write("2026-12-01 08:00:00,000 2 INFO peak odoo.modules: loaded\n")
    assert log_lines_since(log, start) == [
        "2026-12-01 08:00:00,000 2 INFO peak odoo.modules: loaded"
    ]
    assert "old failure" in log_lines_since(log, 0)[0]


def test_the_edge_routes_as_the_compose_stack_does(tmp_path):
    """make run's Traefik: docker/traefik/dynamic.yml with the two backends on
    127.0.0.1, every route and middleware unchanged."""
    compose = yaml.safe_load(edge.DYNAMIC.read_text())
    local = yaml.safe_load(edge.render_dynamic(18069, 18072))
    assert local["http"]["routers"] == compose["http"]["routers"]
    assert local["http"]["middlewares"] == compose["http"]["middlewares"]
    services = local["http"]["services"]
    assert services["odoo-web"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:18069"}
    ]
    assert services["odoo-websocket"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:18072"}
    ]
    assert services["odoo-web"]["loadBalancer"]["healthCheck"]["path"] == (
        "/web/health"
    )
    router = local["http"]["routers"]["odoo-websocket"]
    assert router["rule"] == "PathPrefix(`/websocket`)"
    assert router["service"] == "odoo-websocket"
    # A compose file the local stack cannot follow is refused, not guessed.
    broken = tmp_path / "dynamic.yml"
    del compose["http"]["services"]["odoo-websocket"]
    broken.write_text(yaml.safe_dump(compose))
    with pytest.raises(edge.EdgeError, match="odoo-websocket"):
        edge.render_dynamic(1, 2, source=broken)


def test_the_edge_keeps_ping_off_the_public_port(tmp_path):
    static = yaml.safe_load(
        edge.render_static(8080, 18099, tmp_path / "d.yml", tmp_path / "a.log")
    )
    assert static["entryPoints"]["web"]["address"] == "127.0.0.1:8080"
    assert static["ping"]["entryPoint"] == "traefik"
    assert static["entryPoints"]["traefik"]["address"] == "127.0.0.1:18099"
    assert static["accessLog"]["format"] == "json"
