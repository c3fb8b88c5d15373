# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The local read cache on a real disk, with real processes (no S3, no
database)."""

import hashlib
import multiprocessing
import os
import time

from odoo.addons.peak_attachment_s3.lib import metrics
from odoo.addons.peak_attachment_s3.lib.cache import (
    FILL_PREFIX,
    ReadCache,
    namespace,
)

SPACE = namespace("http://s3.test", "bucket", "odoo/prod/")


def _object(n: int, size: int = 4096):
    data = n.to_bytes(4, "big") * (size // 4)
    return hashlib.sha1(data).hexdigest(), data


def _lookups(result):
    return metrics.S3_CACHE_LOOKUPS.labels(result)._value.get()


def _size(root):
    return sum(
        p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and len(p.name) == 40  # entries, not the lock file
    )


def test_a_kept_object_is_read_back_by_another_cache_on_the_same_directory(tmp_path):
    sha1, data = _object(1)
    ReadCache(tmp_path, 1 << 20).put(SPACE, sha1, data)
    hits = _lookups("hit")
    # A restarted worker: a new process, a new object, the same directory.
    assert ReadCache(tmp_path, 1 << 20).get(SPACE, sha1) == data
    assert _lookups("hit") == hits + 1
    entry = tmp_path / SPACE / sha1[:2] / sha1
    assert entry.stat().st_mode & 0o077 == 0  # attachments are private


def test_fills_asked_by_reads_land_from_the_background(tmp_path):
    cache = ReadCache(tmp_path, 1 << 20)
    objects = [_object(n) for n in range(20, 30)]
    for sha1, data in objects:
        cache.put_later(SPACE, sha1, data)
    cache.flush()
    assert all(cache.get(SPACE, sha1) == data for sha1, data in objects)


def test_another_prefix_does_not_see_the_entry(tmp_path):
    cache = ReadCache(tmp_path, 1 << 20)
    sha1, data = _object(2)
    cache.put(SPACE, sha1, data)
    other = namespace("http://s3.test", "bucket", "odoo/staging/")
    misses = _lookups("miss")
    assert cache.get(other, sha1) is None
    assert _lookups("miss") == misses + 1


def test_a_damaged_entry_is_dropped_not_served(tmp_path):
    cache = ReadCache(tmp_path, 1 << 20)
    sha1, data = _object(3)
    cache.put(SPACE, sha1, data)
    entry = tmp_path / SPACE / sha1[:2] / sha1
    entry.write_bytes(b"x" + data[1:])
    os.utime(entry, (0, 0))  # checked when next marked used (once a minute)
    corrupt = _lookups("corrupt")
    assert cache.get(SPACE, sha1) is None
    assert _lookups("corrupt") == corrupt + 1
    assert not entry.exists()


def test_an_object_too_large_for_its_share_is_not_kept(tmp_path):
    cache = ReadCache(tmp_path, 64 * 1024)  # entries up to 4 KiB
    sha1, data = _object(4, size=8192)
    cache.put(SPACE, sha1, data)
    assert cache.get(SPACE, sha1) is None


def test_sweeps_evict_the_least_recently_used_down_to_the_limit(tmp_path):
    limit = 100 * 4096
    filler = ReadCache(tmp_path, 1 << 30)  # no eviction while filling
    objects = [_object(n) for n in range(150)]
    for n, (sha1, data) in enumerate(objects):
        filler.put(SPACE, sha1, data)
        entry = tmp_path / SPACE / sha1[:2] / sha1
        os.utime(entry, (1000 + n, 1000 + n))  # filled one second apart
    # Read the oldest one: it was used last, so it must outlive the others.
    first_sha1, first = objects[0]
    os.utime(tmp_path / SPACE / first_sha1[:2] / first_sha1, (0, 0))
    cache = ReadCache(tmp_path, limit)
    assert cache.get(SPACE, first_sha1) == first  # touched: now the newest
    evictions = metrics.S3_CACHE_EVICTIONS._value.get()
    kept = cache.sweep()
    assert kept == _size(tmp_path) <= limit * 0.9
    assert metrics.S3_CACHE_EVICTIONS._value.get() > evictions
    assert cache.get(SPACE, first_sha1) == first
    assert cache.get(SPACE, objects[1][0]) is None  # the least recently used
    assert cache.get(SPACE, objects[-1][0]) == objects[-1][1]


def test_abandoned_fills_are_cleaned_and_a_read_only_disk_loses_only_the_entry(
    tmp_path,
):
    cache = ReadCache(tmp_path, 1 << 20)
    sha1, data = _object(5)
    cache.put(SPACE, sha1, data)
    abandoned = tmp_path / SPACE / sha1[:2] / f"{FILL_PREFIX}dead"
    abandoned.write_bytes(b"half")
    os.utime(abandoned, (0, 0))
    cache.sweep()
    assert not abandoned.exists()
    errors = metrics.S3_CACHE_FILL_ERRORS._value.get()
    blocked = ReadCache(tmp_path / "file-not-dir", 1 << 20)
    (tmp_path / "file-not-dir").write_bytes(b"")  # mkdir under it fails
    other_sha1, other = _object(6)
    blocked.put(SPACE, other_sha1, other)  # no exception: the read goes on
    assert metrics.S3_CACHE_FILL_ERRORS._value.get() == errors + 1


def _worker(root, limit, seed, rounds, failures):
    cache = ReadCache(root, limit)
    for i in range(rounds):
        sha1, data = _object((seed * 7 + i) % 60)
        got = cache.get(SPACE, sha1)
        if got is not None and got != data:
            failures.put(f"torn or foreign read of {sha1}")
        if got is None:
            cache.put(SPACE, sha1, data)
    cache.sweep()


def test_processes_filling_and_evicting_at_once_never_read_a_torn_entry(tmp_path):
    limit = 20 * 4096  # 60 objects compete for 20 places: constant eviction
    ctx = multiprocessing.get_context("fork")
    failures = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(tmp_path, limit, seed, 300, failures))
        for seed in range(4)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    for worker in workers:
        worker.join(max(1.0, deadline - time.monotonic()))
        assert worker.exitcode == 0
    assert failures.empty(), failures.get()
    ReadCache(tmp_path, limit).sweep()
    assert _size(tmp_path) <= limit
    assert list(tmp_path.rglob(f"{FILL_PREFIX}*")) == []
