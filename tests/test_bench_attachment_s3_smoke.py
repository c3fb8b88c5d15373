"""The attachment benchmark (bench/attachment_s3.py) runs end to end.

Smoke size against the database of `make test`, in a subprocess, results in a
temporary directory. Timings are the benchmark's business, never asserted
here: only that every path was really measured and the migration really moved
(and a rerun did not move) the files.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "attachment_s3.py"
TIMEOUT_S = 300


def test_attachment_s3_bench_smoke(tmp_path):
    db_name = os.environ.get("PEAK_TEST_DB")
    if not db_name:
        pytest.skip("needs `make test` (PEAK_TEST_DB): a database with the suite")
    argv = [sys.executable, str(SCRIPT), "--smoke", "--db", db_name]
    argv += ["--output", str(tmp_path)]
    if os.environ.get("PEAK_TEST_ODOO_CONFIG"):
        argv += ["--odoo-config", os.environ["PEAK_TEST_ODOO_CONFIG"]]
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert (
        done.returncode == 0
    ), f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"

    result = json.loads((tmp_path / "attachment_s3.smoke.json").read_text())
    assert (tmp_path / "attachment_s3.smoke.md").is_file()
    assert not (tmp_path / "attachment_s3.json").exists()
    for name in ("write_file", "write_s3", "read_file", "read_s3"):
        assert result["latency"][name]["samples"] >= 30, name
        assert result["latency"][name]["p50_ms"] > 0, name
    migration = result["migration"]
    assert migration["files"] == 200
    assert migration["peak_moved"] >= 200
    assert migration["rerun_moved"] == 0
    # The way back moves every batch file (the bench checks each one); the
    # database's other attachments may have gone to S3 or, small images, into
    # the database, so the totals of both directions need not match.
    assert migration["back_moved"] >= migration["files"]
    assert result["ratio_migration_vs_anchor"] > 0
    assert isinstance(result["migration_target_met"], bool)
    for key in ("cpus", "memory_gb", "postgresql", "python"):
        assert result["machine"][key], key
