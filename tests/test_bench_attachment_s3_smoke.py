"""The attachment benchmark (bench/attachment_s3.py) runs end to end.

Smoke size against the database of `make test`, in a subprocess, results in a
temporary directory. Timings are the benchmark's business, never asserted
here: only that every path was really measured and the migration really moved
(and a rerun did not move) the files.
"""

from bench_smoke import run_smoke_on_test_db


def test_attachment_s3_bench_smoke(tmp_path):
    result = run_smoke_on_test_db("attachment_s3", tmp_path)
    for name in (
        "write_file",
        "write_s3",
        "read_file",
        "read_s3",
        "read_s3_cache_fill",
        "read_s3_cached",
        "read_s3_cached_after_restart",
    ):
        assert result["latency"][name]["samples"] >= 30, name
        assert result["latency"][name]["p50_ms"] > 0, name
    hits = result["cache_hit_ratio"]
    # Every draw went through the cache, which misses at least once per object
    # it saw and, smaller than the working set, hit and missed both.
    assert hits["hits"] + hits["misses"] == hits["reads"]
    assert 0 < hits["hit_ratio"] < 1
    assert isinstance(result["cached_read_target_met"], bool)
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
