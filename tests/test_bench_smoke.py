"""The lease round-trip benchmark (bench/lease_roundtrip.py) runs end to end.

Smoke size (2 000 jobs, 3 rounds) against the database of `make test`, in a
subprocess, results in a temporary directory. Timings are the benchmark's
business, never asserted here: only that both paths were really measured and
that queue_job's runner really held the jobs.
"""

from bench_smoke import run_smoke_on_test_db


def test_lease_roundtrip_smoke(tmp_path):
    result = run_smoke_on_test_db("lease_roundtrip", tmp_path)
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
