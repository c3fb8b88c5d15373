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


@pytest.fixture(scope="session", autouse=True)
def governor_role():
    """The governor's least-privilege role, as a deployment creates it (with
    no predefined role, by a superuser) and granted the rest by peak_queue."""
    import os

    from pg import DB, GOVERNOR_ROLE, grant_roles, superuser

    if not DB:
        yield None
        return
    with superuser() as admin:
        admin.execute(f"DROP ROLE IF EXISTS {GOVERNOR_ROLE}")
        admin.execute(f"CREATE ROLE {GOVERNOR_ROLE} LOGIN")
        os.environ["PEAK_GOVERNOR_ROLE"] = GOVERNOR_ROLE
        try:
            grant_roles()
            yield GOVERNOR_ROLE
        finally:
            os.environ.pop("PEAK_GOVERNOR_ROLE", None)
            admin.execute(f"DROP OWNED BY {GOVERNOR_ROLE}")
            admin.execute(f"DROP ROLE {GOVERNOR_ROLE}")
