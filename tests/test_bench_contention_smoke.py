"""The peak contention benchmark (bench/peak_contention.py) runs end to end.

``--smoke`` (a few seconds per mode) in a subprocess: its own throw-away
database, its own Odoo servers (web, and jobs with the jobrunner) and
governor, results in a temporary directory. Timings are the benchmark's
business, never asserted here: only that every mode ran and produced
numbers, and that the jobs ran on the job server.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "peak_contention.py"
TIMEOUT_S = 600
MODES = ("baseline", "ungoverned", "static_cap", "governed", "governed_windowed")
GOVERNED = ("governed", "governed_windowed")
FIGURES = (
    "governed_p95_vs_baseline",
    "ungoverned_p95_vs_baseline",
    "governed_bulk_vs_ungoverned",
    "time_to_lease_p95_s",
    "transitions_per_min",
    "bulk_jobs_failed",
    "onset_p95_vs_baseline",
    "onsets_without_lease",
    "governed_p90_vs_baseline",
    "governed_slow_calls",
    "baseline_slow_calls",
)


def test_peak_contention_smoke(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--smoke",
            "--output",
            str(tmp_path),
            "--keep-logs",
            str(tmp_path / "logs"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert (
        done.returncode == 0
    ), f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"

    result = json.loads((tmp_path / "peak_contention.smoke.json").read_text())
    assert (tmp_path / "peak_contention.smoke.md").is_file()
    assert (tmp_path / "peak_contention.smoke.png").stat().st_size > 0
    # Smoke output never takes the place of a real result.
    assert not (tmp_path / "peak_contention.json").exists()
    assert result["smoke"] is True
    [run] = result["runs"]  # --smoke: one run
    for mode in MODES:
        numbers = run[mode]
        assert numbers["calls"] > 0, mode
        assert numbers["errors"] >= 0, mode
        for key in ("p50_ms", "p95_ms", "p99_ms", "onset_p95_ms"):
            assert numbers[key] is not None and numbers[key] > 0, (mode, key)
        assert [w["start_s"] for w in numbers["waves"]] == [
            a for a, _b in result["bursts_s"]
        ]
        if mode == "baseline":
            assert numbers["bulk_jobs_per_min"] is None
        else:
            assert numbers["bulk_jobs_per_min"] >= 0, mode
    for mode in GOVERNED:
        governed = run[mode]
        assert governed["governor_alive"] is True, mode
        assert governed["transitions_per_min"] >= 0, mode
        for key in ("time_to_lease_p95_s", "time_to_release_p95_s"):
            assert key in governed  # None when no lease started or ended
        assert (
            len(governed["onsets_without_lease_explained"])
            == (governed["onsets_without_lease"])
        )
    # The windowed mode's waves are scheduled windows: the drain leased
    # root.bulk before the first one opened.
    first_burst = result["bursts_s"][0][0]
    assert run["governed_windowed"]["leases"], "no pre-window drain"
    assert run["governed_windowed"]["leases"][0][0] < first_burst
    # Both scenarios carry every figure with its spread, and the policy used.
    for scenario in ("unannounced", "windowed"):
        figures = result["scenarios"][scenario]["figures"]
        for figure in FIGURES:
            assert set(figures[figure]) == {"median", "min", "max", "values"}
    assert result["policy"]["drain"] == "auto"
    assert result["policy"]["preempt_after"] == 0.0
    for key in ("cpus", "memory_gb", "postgresql", "python"):
        assert result["machine"][key], key
    # Jobs ran on the job server, never in a picker's worker.
    web_log = (tmp_path / "logs" / "odoo.log").read_text(errors="replace")
    jobs_log = (tmp_path / "logs" / "odoo-jobs.log").read_text(errors="replace")
    assert "/queue_job/runjob" in jobs_log
    assert "/queue_job/runjob" not in web_log
    assert "/web/dataset/call_kw" in web_log
