# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""What the Redis store takes over from before it: sessions of Odoo's
filesystem store (moved on first use, emptied by ``vacuum``) and sessions the
previous version kept under their raw identifier (moved on first use)."""

import contextlib
import glob
import json
import logging
import os
import time

from . import metrics

_logger = logging.getLogger(__name__)

DEFAULT_LIFETIME = 7 * 24 * 3600  # odoo.http.SESSION_LIFETIME
#: what the save script answers when a session (or the one it replaces) was
#: revoked (store.SAVE_UNLESS_REVOKED)
REVOKED = -1


class Switchover:
    """Mixed into RedisSessionStore (which provides ``_call``, ``_save``,
    ``_decode``, ``_encode``, ``lifetime``, ``raw_keys``)."""

    def vacuum(self, max_lifetime=DEFAULT_LIFETIME):
        """Redis expires sessions by itself (TTL). What is left: session files
        of the filesystem store older than ``max_lifetime`` after a
        switch-over, so the old store empties itself."""
        started = time.perf_counter()
        removed = 0
        if self.filesystem_path and os.path.isdir(self.filesystem_path):
            threshold = time.time() - max_lifetime
            for path in glob.iglob(os.path.join(self.filesystem_path, "*", "*")):
                with contextlib.suppress(OSError):
                    if os.path.getmtime(path) < threshold:
                        os.unlink(path)
                        removed += 1
        metrics.OPERATION_DURATION.labels("vacuum").observe(
            time.perf_counter() - started
        )
        return removed

    def _adopt(self, sid, data, old_keys=()):
        """Store ``data``, found in an older store, as session ``sid`` (NX: a
        worker that moved it first, and maybe saved since, wins), deleting
        ``old_keys``; the session, or None when it was revoked meanwhile."""
        session = self.session_class(data, sid, False)
        lifetime = self.lifetime(session)
        payload = self._encode(session, lifetime)
        outcome = self._save("save", sid, payload, lifetime, old_keys=old_keys, nx=True)
        return None if outcome == REVOKED else session

    def _move_raw(self, sid):
        """A session stored under its identifier by 18.0.1.0: stored under
        the keyed hash and the old key deleted, in one script (unless it was
        revoked, under either name). Looked up on a miss only: a session found
        under its hashed key costs no second read."""
        old_keys = self.raw_keys(sid)
        found = self._decode(sid, self._call("get", lambda c: c.get(old_keys[0])))
        if found is None:
            return None
        session = self._adopt(sid, found[0], old_keys=old_keys)
        if session is not None:
            metrics.FALLBACKS.labels("raw_key_moved").inc()
        return session

    def _filesystem_file(self, sid):
        if not (self.config.migrate_filesystem and self.filesystem_path):
            return None
        path = os.path.join(self.filesystem_path, sid[:2], sid)
        return path if os.path.isfile(path) else None

    def _remove_filesystem_copies(self, identifier: str) -> None:
        if not self.filesystem_path:
            return
        # An identifier is [A-Za-z0-9_-]: nothing a glob would expand.
        directory = os.path.join(self.filesystem_path, identifier[:2])
        for path in glob.glob(os.path.join(directory, identifier + "*")):
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _migrate(self, sid):
        """A session still in the filesystem store: move it (no forced logout
        on switch-over), unless it was revoked. Looked up once: the file is
        gone afterwards."""
        path = self._filesystem_file(sid)
        if path is None:
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            _logger.warning("session store: unreadable session file for %s...", sid[:8])
            return None
        if not isinstance(data, dict):
            return None
        session = self._adopt(sid, data)
        with contextlib.suppress(OSError):
            os.unlink(path)
        if session is None:
            return None  # revoked before it was ever moved: stays logged out
        metrics.FALLBACKS.labels("filesystem_migrated").inc()
        _logger.info("session store: moved session %s... from the filesystem", sid[:8])
        return session
