"""The session-store benchmark (bench/session_store.py) runs end to end.

Smoke size (2 000 sessions, a few seconds of load per store) in a subprocess,
results in a temporary directory. Timings are the benchmark's business, never
asserted here: only that both stores were really measured.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "session_store.py"


def test_session_store_bench_smoke(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "session_store.smoke.json").read_text())
    assert (tmp_path / "session_store.smoke.md").read_text().startswith("# Session")
    assert result["sessions"] == 2000
    expected = result["rate_per_s"] * result["seconds_per_round"] * result["rounds"]
    for store in ("filesystem", "redis"):
        for operation in ("get", "save"):
            measured = result["stores"][store][operation]
            assert measured["count"] == expected
            assert 0 < measured["p50_ms"] <= measured["p95_ms"] <= measured["max_ms"]
    assert result["vacuum_ms"]["filesystem"] > 0
    assert set(result["ratios_redis_over_filesystem"]) >= {"get_p95", "save_p95"}
