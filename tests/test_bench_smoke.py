"""The lease round-trip benchmark (bench/lease_roundtrip.py) runs end to end.

Smoke size (2 000 jobs, 3 rounds) against the database of `make test`, in a
subprocess, results in a temporary directory. Timings are the benchmark's
business, never asserted here: only that both paths were really measured and
that queue_job's runner really held the jobs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "lease_roundtrip.py"
TIMEOUT_S = 300


def test_lease_roundtrip_smoke(tmp_path):
    db_name = os.environ.get("PEAK_TEST_DB")
    if not db_name:
        pytest.skip("needs `make test` (PEAK_TEST_DB): a database with the suite")
    argv = [
        sys.executable,
        str(SCRIPT),
        "--smoke",
        "--db",
        db_name,
        "--output",
        str(tmp_path),
    ]
    if os.environ.get("PEAK_TEST_ODOO_CONFIG"):
        argv += ["--odoo-config", os.environ["PEAK_TEST_ODOO_CONFIG"]]
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert (
        done.returncode == 0
    ), f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"

    result = json.loads((tmp_path / "lease_roundtrip.smoke.json").read_text())
    assert (tmp_path / "lease_roundtrip.smoke.md").is_file()
    # Smoke output never takes the place of a real result.
    assert not (tmp_path / "lease_roundtrip.json").exists()
    assert result["jobs"] == 2000
    assert result["rounds"] == 3
    for path in ("baseline", "lease"):
        assert result[path]["samples"] == 2 * result["rounds"]
        for key in ("p50_ms", "p95_ms", "max_ms"):
            assert result[path][key] > 0, (path, key)
    assert result["ratio_p50"] > 0 and result["ratio_p95"] > 0
    assert isinstance(result["lease_p95_under_1s"], bool)
    runner = result["runner"]
    assert runner["resident_jobs_min"] >= 2000
    assert runner["bulk_channel_jobs_min"] >= 2000
    assert runner["dispatched"] == 0
    for key in ("cpus", "memory_gb", "postgresql", "python"):
        assert result["machine"][key]
