"""Shared fixtures of the cross-component tests (no Odoo registry needed)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from peak_dev.seaweed import SeaweedS3  # noqa: E402


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory):
    """A real SeaweedFS S3 server on free loopback ports, stopped afterwards."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"), bucket="peak-test")
    server.start()
    yield server
    server.stop()
