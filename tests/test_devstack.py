"""The tooling behind `make run` / `make test`: settings and the embedded S3."""

import subprocess
import sys

import pytest
from peak_dev import settings


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
