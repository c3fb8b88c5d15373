"""Run a benchmark of bench/ in smoke mode against the database of `make test`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300


def run_smoke_on_test_db(script: str, tmp_path: Path) -> dict:
    """``bench/<script>.py --smoke --db <test db>`` in a subprocess; return its
    ``<script>.smoke.json``, after checking the markdown is there and that the
    smoke run never took the place of a real result."""
    db_name = os.environ.get("PEAK_TEST_DB")
    if not db_name:
        pytest.skip("needs `make test` (PEAK_TEST_DB): a database with the suite")
    argv = [sys.executable, str(ROOT / "bench" / f"{script}.py"), "--smoke"]
    argv += ["--db", db_name, "--output", str(tmp_path)]
    if os.environ.get("PEAK_TEST_ODOO_CONFIG"):
        argv += ["--odoo-config", os.environ["PEAK_TEST_ODOO_CONFIG"]]
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert (
        done.returncode == 0
    ), f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert (tmp_path / f"{script}.smoke.md").is_file()
    assert not (tmp_path / f"{script}.json").exists()
    return json.loads((tmp_path / f"{script}.smoke.json").read_text())
