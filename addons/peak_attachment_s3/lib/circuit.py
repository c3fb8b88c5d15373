# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""A slow S3 must not hold Odoo's workers (pure Python, no Odoo import).

Two rules, as the Redis session store has them:

Deadline
    Every call answers within ``PEAK_S3_CALL_TIMEOUT_SECONDS`` in total,
    connection, retries and backoff included (an upload gets one more second
    per MB it sends).  botocore's own timeouts bound each socket operation,
    not the call: against a frozen S3 (SIGSTOP, a brownout) a read waited its
    15 s read timeout three times.  The call runs in a small thread pool and
    the worker stops waiting at the deadline; the thread ends by botocore's
    timeouts.
Fail fast
    Once a call timed out or could not connect, the store is *degraded*: for
    ``PEAK_S3_RETRY_INTERVAL_SECONDS`` every call fails at once, then one
    call is let through to try S3 again (the others keep failing fast until
    it answers).  Any success, that call's or the health check's probe,
    closes it.
"""

import concurrent.futures
import threading
import time

#: An upload's deadline grows by a second per this many bytes it sends.
UPLOAD_BYTES_PER_SECOND = 1_000_000
#: Server-side copies and bulk deletes (GC, promotion: nobody waits on them).
BACKGROUND_DEADLINE_S = 60.0


class Circuit:
    def __init__(self, call_timeout: float, retry_interval: float, threads: int):
        self.call_timeout = call_timeout
        self.retry_interval = retry_interval
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="peak-s3"
        )
        self._lock = threading.Lock()
        self._open_until = 0.0  # while degraded: fail fast until then

    def deadline(self, sent_bytes: int = 0) -> float:
        return self.call_timeout + sent_bytes / UPLOAD_BYTES_PER_SECOND

    def run(self, seconds: float, func, *args, **kwargs):
        """``func(*args, **kwargs)``, or TimeoutError after ``seconds``."""
        future = self._pool.submit(func, *args, **kwargs)
        try:
            return future.result(timeout=seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"S3 gave no answer within {seconds:g} s") from None

    def admit(self, degraded: bool) -> float:
        """0 when a call may go to S3; else the seconds until the next try
        (``degraded``: the store's health says S3 is down)."""
        if not degraded:
            return 0.0
        with self._lock:
            now = time.monotonic()
            if now < self._open_until:
                return self._open_until - now
            self._open_until = now + self.retry_interval  # this one tries
            return 0.0

    def failed(self) -> None:
        """A call timed out or could not connect: the next try is later."""
        with self._lock:
            self._open_until = time.monotonic() + self.retry_interval
