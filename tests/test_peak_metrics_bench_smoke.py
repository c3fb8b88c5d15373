"""bench/metrics_scrape.py runs end to end (``--smoke``) against the database of
``make test``: both servers scraped, both query sets measured, the jobs it
inserted removed. Timings are the benchmark's business, never asserted here."""

import json
import subprocess
import sys
from pathlib import Path

from pg import DB, needs_db, sql

pytestmark = needs_db
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "metrics_scrape.py"


def test_metrics_scrape_smoke(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--db", DB, "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result = json.loads((tmp_path / "metrics_scrape.smoke.json").read_text())
    assert (tmp_path / "metrics_scrape.smoke.md").is_file()
    assert not (tmp_path / "metrics_scrape.json").exists()
    assert result["smoke"] is True
    assert result["inserted_rows"] == 20_000
    assert result["queue_job_rows"] >= 20_000
    for name in ("uncached", "cached"):
        scrape = result["scrape"][name]
        assert scrape["samples"] == result["scrapes"]
        assert scrape["p50_ms"] > 0 and scrape["p95_ms"] >= scrape["p50_ms"]
        assert scrape["series"] > 50
    for name in ("peak_metrics", "naive"):
        assert result["collection"][name]["samples"] == 5
        assert result["collection"][name]["p50_ms"] > 0
    assert result["machine"]["cpus"] >= 1
    remaining = sql("SELECT count(*) FROM queue_job WHERE name = 'peak-bench-metrics'")
    assert remaining[0][0] == 0
