"""A clean `make test` run logs no ERROR: a new user reads one as a failure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = os.environ.get("PEAK_TEST_ODOO_CONFIG")
DB = os.environ.get("PEAK_TEST_DB")


@pytest.mark.skipif(not (CONFIG and DB), reason="needs `make test`")
def test_pytest_odoo_session_logs_no_error():
    """The same pytest-odoo start as `make test` (registry loaded), on a few
    pure tests: its output holds no ERROR or CRITICAL log line."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--odoo-config={CONFIG}",
            f"--odoo-database={DB}",
            "--odoo-log-level=warn",
            "addons/peak_base/tests/test_windows.py",
        ],
        cwd=ROOT,
        env=dict(os.environ, ODOO_QUEUE_JOB_MAX_CAPACITY="0"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert " passed" in output
    bad = [
        line
        for line in output.splitlines()
        if " ERROR " in line or " CRITICAL " in line
    ]
    assert not bad, "\n".join(bad)
