# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""A bounded cache of S3 objects on local disk, shared by a host's workers.

Objects are content-addressed (a key names the SHA-1 of its bytes and never
holds other bytes: collisions are refused on write), so a cached copy never
goes stale: there is nothing to invalidate, only space to bound.

Layout: ``<directory>/<namespace>/<ab>/<sha1>``, the namespace a hash of the
endpoint, bucket and key prefix (two databases' prefixes never share entries).
Safe for several processes without a shared lock on the read path:

- a fill writes a private temporary file and renames it into place, so a
  reader sees a whole entry or none; reads fill from a background thread
  (creating a file costs about a millisecond here, which a miss should not
  pay), dropping fills beyond ``MAX_PENDING_BYTES``;
- a hit marks the entry used (its mtime) and re-checks its SHA-1 (a damaged
  entry is dropped and read from S3), both at most once a minute;
- the size is bounded by sweeps that evict the least recently used entries
  down to 90 % of the limit; one process sweeps at a time (``flock``), after
  it filled 5 % of the limit since its last sweep, or at its first fill.
  Between sweeps each process may overshoot by those 5 %.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import metrics

_logger = logging.getLogger(__name__)

#: an object larger than this share of the limit is never cached: one
#: document must not evict what everyone reads
MAX_ENTRY_SHARE = 16
SWEEP_EVERY_SHARE = 20  # sweep after filling 1/20 of the limit
SWEEP_DOWN_TO = 0.9
TOUCH_INTERVAL_S = 60.0
#: temporary files older than this belong to a process that died mid-fill
ABANDONED_FILL_S = 3600.0
FILL_PREFIX = ".fill-"
MAX_PENDING_BYTES = 64 * 1024 * 1024  # fills waiting for the background thread


def namespace(endpoint_url: str, bucket: str, prefix: str) -> str:
    ident = "\0".join((endpoint_url, bucket, prefix)).encode()
    return hashlib.sha256(ident).hexdigest()[:16]


class ReadCache:
    """One cache directory and size limit; thread- and process-safe."""

    def __init__(self, directory, max_bytes: int):
        self.root = Path(directory)
        self._root = str(directory)  # reads join strings: Path costs 20 µs a hit
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // MAX_ENTRY_SHARE
        self._filled_since_sweep = 0
        self._swept = False
        self._pending_bytes = 0
        self._pending_lock = threading.Lock()
        self._filler = None
        self._failing = False

    def _path(self, space: str, sha1: str) -> str:
        return f"{self._root}/{space}/{sha1[:2]}/{sha1}"

    def get(self, space: str, sha1: str) -> bytes | None:
        """The cached bytes, or None (a miss, or an entry that did not match
        its checksum any more, which is dropped)."""
        path = self._path(space, sha1)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
                used = os.fstat(handle.fileno()).st_mtime
        except OSError:
            metrics.S3_CACHE_LOOKUPS.labels("miss").inc()
            return None
        now = time.time()
        if now - used > TOUCH_INTERVAL_S:
            # Checked when marked used: a hot entry once a minute, not on each
            # of its hits (SHA-1 of 50 KB: 27 µs, half the filestore's read).
            if hashlib.sha1(data, usedforsecurity=False).hexdigest() != sha1:
                _logger.warning("S3 read cache: %s is damaged; dropped", path)
                with contextlib.suppress(OSError):
                    os.unlink(path)
                metrics.S3_CACHE_LOOKUPS.labels("corrupt").inc()
                return None
            with contextlib.suppress(OSError):  # evicted meanwhile: fine
                os.utime(path, (now, now))
        metrics.S3_CACHE_LOOKUPS.labels("hit").inc()
        return data

    def put_later(self, space: str, sha1: str, data: bytes) -> None:
        """:meth:`put` from the background thread; dropped (the next read
        fills it) when too much is already waiting."""
        if len(data) > self.max_entry_bytes:
            return
        with self._pending_lock:
            if self._pending_bytes + len(data) > MAX_PENDING_BYTES:
                metrics.S3_CACHE_FILL_ERRORS.inc()
                return
            self._pending_bytes += len(data)
            if self._filler is None:  # per process: a runtime never crosses a fork
                self._filler = ThreadPoolExecutor(1, "peak-s3-cache-fill")
        self._filler.submit(self._fill_later, space, sha1, data)

    def _fill_later(self, space, sha1, data):
        try:
            self.put(space, sha1, data)
        except Exception:  # a thread must not die silently on a bug
            _logger.exception("S3 read cache: fill of %s failed", sha1)
        finally:
            with self._pending_lock:
                self._pending_bytes -= len(data)

    def flush(self) -> None:
        """Wait for the fills asked so far (tests, benchmarks)."""
        if self._filler is not None:
            self._filler.submit(int).result()

    def put(self, space: str, sha1: str, data: bytes) -> None:
        """Keep ``data`` (already checked against ``sha1`` by the caller).
        A full or read-only disk loses the entry, never the read."""
        if len(data) > self.max_entry_bytes:
            return
        path = self._path(space, sha1)
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=FILL_PREFIX, dir=os.path.dirname(path))
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            metrics.S3_CACHE_FILL_ERRORS.inc()
            if not self._failing:  # once, not on every miss of a full disk
                _logger.warning("S3 read cache: cannot keep entries: %s", exc)
            self._failing = True
            return
        if self._failing:
            self._failing = False
            _logger.warning("S3 read cache: keeps entries again")
        self._filled_since_sweep += len(data)
        if (
            not self._swept
            or self._filled_since_sweep >= self.max_bytes // SWEEP_EVERY_SHARE
        ):
            self.sweep()

    def sweep(self) -> int | None:
        """Evict the least recently used entries down to 90 % of the limit;
        the bytes kept, or None when another process is sweeping."""
        self._swept = True
        self._filled_since_sweep = 0
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = open(self.root / ".sweep.lock", "a+b")
        except OSError as exc:
            _logger.warning("S3 read cache: cannot sweep %s: %s", self.root, exc)
            return None
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            entries, total = self._entries()
            if total > self.max_bytes:
                entries.sort()  # oldest use first
                target = self.max_bytes * SWEEP_DOWN_TO
                evicted = 0
                for _used, size, path in entries:
                    if total <= target:
                        break
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        total -= size
                        evicted += 1
                metrics.S3_CACHE_EVICTIONS.inc(evicted)
            metrics.S3_CACHE_BYTES.set(total)
            return total

    def _entries(self):
        """``[(last use, size, path)]`` of every entry, and their total size;
        abandoned temporary files are removed on the way."""
        entries, total, now = [], 0, time.time()
        for path in self.root.glob("*/*/*"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path.name.startswith(FILL_PREFIX):
                if now - stat.st_mtime > ABANDONED_FILL_S:
                    with contextlib.suppress(OSError):
                        path.unlink()
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
            total += stat.st_size
        return entries, total
