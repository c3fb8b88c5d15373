# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Odoo 18 HTTP sessions in Redis.

One key per session, named after the session *identifier* (``sid[:42]``, what
``res.device.log`` records), holding JSON ``{"sid", "lifetime", "data"}``:
device revoke and "log out all devices" delete keys by name, never scan the
keyspace; ``get`` checks the full sid in constant time.

Every call is bounded by the socket/connect timeouts. After a connection
failure the store answers "unavailable" at once for ``retry_interval`` seconds
(no request waits on a dead Redis twice in a row), then tries again: recovery
needs no restart. Nothing talks to Redis before the first request.
"""

import base64
import contextlib
import glob
import hmac
import json
import logging
import os
import re
import threading
import time
from hashlib import sha512

import redis
from werkzeug.exceptions import ServiceUnavailable

from odoo.tools._vendor import sessions

from . import metrics
from .config import StoreConfig, make_client

_logger = logging.getLogger(__name__)

SESSION_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{84}$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_-]{42}$")
DEFAULT_LIFETIME = 7 * 24 * 3600  # odoo.http.SESSION_LIFETIME
BATCH = 500  # keys per round trip for revoke / existence checks
JSON_MIMETYPES = ("application/json", "application/json-rpc")
MESSAGE = "session store unavailable"


def refresh_step(lifetime: int) -> int:
    """Sliding expiry re-arms the TTL once it has dropped by this much: one
    EXPIRE per ~10 % of the lifetime instead of a write on every request."""
    return max(60, lifetime // 10)


def _unavailable_app(retry_after: int):
    """WSGI app answering 503: JSON-RPC error for JSON requests, else a page."""

    def app(environ, start_response):
        metrics.FALLBACKS.labels("unavailable_503").inc()
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() in JSON_MIMETYPES:
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {
                        "code": 503,
                        "message": MESSAGE,
                        "data": {
                            "name": "peak_session_redis.SessionStoreUnavailable",
                            "message": f"{MESSAGE}, retry in {retry_after} s",
                        },
                    },
                }
            ).encode()
            content_type = "application/json; charset=utf-8"
        else:
            body = (
                "<!DOCTYPE html><html><head><meta charset='utf-8'>"
                "<title>503 Service Unavailable</title></head><body>"
                "<h1>503 Service Unavailable</h1>"
                f"<p>The {MESSAGE}. Please retry in a few seconds; "
                "your work is not lost.</p></body></html>"
            ).encode()
            content_type = "text/html; charset=utf-8"
        start_response(
            "503 SERVICE UNAVAILABLE",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(retry_after)),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    return app


class SessionStoreUnavailable(ServiceUnavailable):
    """Redis is unreachable. An HTTPException, so Odoo neither logs a
    traceback nor wraps it: ``error_response`` is served as is."""

    description = MESSAGE

    def __init__(self, retry_after: float):
        super().__init__(description=MESSAGE)
        self.error_response = _unavailable_app(max(1, round(retry_after)))


def _reason(exc: Exception) -> str:
    if isinstance(exc, redis.exceptions.TimeoutError):
        return "timeout"
    if isinstance(exc, redis.exceptions.ConnectionError):
        return "connection"
    return "other"


class RedisSessionStore(sessions.SessionStore):
    """The store Odoo 18 calls as ``odoo.http.root.session_store``."""

    def __init__(self, config: StoreConfig, session_class, filesystem_path=None):
        super().__init__(session_class)
        self.config = config
        self.prefix = config.prefix
        # The old store, read once per missing sid when migration is on.
        self.filesystem_path = filesystem_path
        self._client = None
        self._client_lock = threading.Lock()
        self._down_until = 0.0
        self._degraded = False
        self._lifetimes = {}  # db -> (seconds, read at)
        self._local = threading.local()

    # -- plumbing -----------------------------------------------------------
    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = make_client(self.config)
        return self._client

    def key(self, sid_or_identifier: str) -> str:
        return self.prefix + sid_or_identifier[:42]

    def _call(self, operation: str, func):
        if time.monotonic() < self._down_until:
            raise SessionStoreUnavailable(self._down_until - time.monotonic())
        started = time.perf_counter()
        try:
            result = func(self.client)
        except redis.exceptions.RedisError as exc:
            reason = _reason(exc)
            metrics.ERRORS.labels(operation, reason).inc()
            if reason == "other":
                _logger.warning("session store: %s failed: %s", operation, exc)
            else:
                self._mark_down(operation, reason, exc)
            raise SessionStoreUnavailable(self.config.retry_interval) from None
        metrics.OPERATION_DURATION.labels(operation).observe(
            time.perf_counter() - started
        )
        if self._degraded:
            self._degraded = False
            metrics.DEGRADED.set(0)
            _logger.info("session store: Redis %s reachable again", self.config.target)
        return result

    def _mark_down(self, operation, reason, exc):
        self._down_until = time.monotonic() + self.config.retry_interval
        if not self._degraded:
            _logger.warning(
                "session store: Redis %s unreachable (%s during %s: %s); answering "
                "503 to requests that need a session, retrying every %.1f s",
                self.config.target,
                reason,
                operation,
                exc,
                self.config.retry_interval,
            )
        self._degraded = True
        metrics.DEGRADED.set(1)

    @property
    def degraded(self) -> bool:
        return self._degraded

    def ping(self) -> float:
        """Round trip in seconds; raises SessionStoreUnavailable."""
        started = time.perf_counter()
        self._call("get", lambda client: client.ping())
        return time.perf_counter() - started

    @contextlib.contextmanager
    def best_effort(self):
        """Inside: an unreachable store yields a fresh, unsaved session
        instead of a 503 (health checks and static files need no session)."""
        self._local.best_effort = True
        try:
            yield
        finally:
            self._local.best_effort = False

    # -- lifetime -----------------------------------------------------------
    def lifetime(self, session, env=None) -> int:
        """Seconds a session lives without activity: Odoo's
        ``sessions.max_inactivity_seconds`` of its database for a logged-in
        user (read through the request's env, cached per database for the
        calls that have none), the anonymous TTL otherwise."""
        if not session.get("uid"):
            return self.config.anonymous_ttl
        db = session.get("db")
        env = env if env is not None else self._request_env()
        if env is not None and db and env.registry.db_name == db:
            from odoo.http import get_session_max_inactivity

            seconds = get_session_max_inactivity(env)
            self._lifetimes[db] = (seconds, time.monotonic())
            return max(60, seconds)
        # No env here (rotate without env, PDF reports): the last value read
        # for that database.
        cached = self._lifetimes.get(db)
        return max(60, cached[0]) if cached else DEFAULT_LIFETIME

    @staticmethod
    def _request_env():
        from odoo.http import request

        try:
            env = request.env if request else None
        except RuntimeError:
            return None
        if env is None or env.cr is None or env.cr._closed:
            return None
        return env

    # -- Odoo 18 store API ----------------------------------------------------
    def is_valid_key(self, key) -> bool:
        return isinstance(key, str) and SESSION_KEY_RE.match(key) is not None

    def generate_key(self, salt=None) -> str:
        # As Odoo 18: 84 urlsafe characters from sha512 (63 bytes, no padding).
        digest = sha512(str(time.time()).encode() + os.urandom(64)).digest()[:-1]
        return base64.urlsafe_b64encode(digest).decode()

    def new(self):
        return self.session_class({}, self.generate_key(), True)

    def _encode(self, session, lifetime: int) -> bytes:
        return json.dumps(
            {"sid": session.sid, "lifetime": lifetime, "data": dict(session)},
            separators=(",", ":"),
        ).encode()

    def _decode(self, sid: str, raw):
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            stored_sid, data = doc["sid"], doc["data"]
            lifetime = int(doc["lifetime"])
        except (ValueError, KeyError, TypeError):
            _logger.warning("session store: unreadable session %s..., ignored", sid[:8])
            return None
        if not (
            isinstance(stored_sid, str)
            and isinstance(data, dict)
            and hmac.compare_digest(stored_sid.encode(), sid.encode())
        ):
            return None  # same identifier, different sid: not this session
        return data, lifetime

    def get(self, sid):
        if not self.is_valid_key(sid):
            return self.new()
        key = self.key(sid)

        def read(client):
            pipe = client.pipeline(transaction=False)
            pipe.get(key)
            pipe.ttl(key)
            return pipe.execute()

        try:
            raw, ttl = self._call("get", read)
        except SessionStoreUnavailable:
            if getattr(self._local, "best_effort", False):
                session = self.new()
                session.can_save = False
                return session
            raise
        found = self._decode(sid, raw)
        if found is None:
            return self._migrate(sid) or self.new()
        data, lifetime = found
        if 0 <= ttl < lifetime - refresh_step(lifetime):
            # Sliding expiry, without rewriting the session.
            self._call("get", lambda client: client.expire(key, lifetime))
        return self.session_class(data, sid, False)

    def save(self, session):
        if not self.is_valid_key(session.sid):
            raise ValueError("invalid session id")
        lifetime = self.lifetime(session)
        payload = self._encode(session, lifetime)
        key = self.key(session.sid)
        self._call("save", lambda client: client.set(key, payload, ex=lifetime))

    def delete(self, session):
        if not self.is_valid_key(session.sid):
            return
        key = self.key(session.sid)
        self._call("delete", lambda client: client.delete(key))

    def rotate(self, session, env):
        from odoo.service import security

        old_key = self.key(session.sid) if self.is_valid_key(session.sid) else None
        session.sid = self.generate_key()
        if session.uid and env:
            session.session_token = security.compute_session_token(session, env)
        session.should_rotate = False
        lifetime = self.lifetime(session, env)
        payload = self._encode(session, lifetime)
        new_key = self.key(session.sid)

        def swap(client):
            pipe = client.pipeline(transaction=True)  # MULTI/EXEC: both or none
            if old_key:
                pipe.delete(old_key)
            pipe.set(new_key, payload, ex=lifetime)
            return pipe.execute()

        self._call("rotate", swap)

    def delete_from_identifiers(self, identifiers):
        """Device revoke: one DEL per 500 identifiers, never a SCAN. Anything
        that is not an identifier is dropped before Redis sees it."""
        keys = [
            self.key(identifier)
            for identifier in dict.fromkeys(identifiers)
            if isinstance(identifier, str) and IDENTIFIER_RE.match(identifier)
        ]
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            self._call("revoke", lambda client, chunk=chunk: client.delete(*chunk))

    def get_missing_session_identifiers(self, identifiers):
        """The identifiers without a session (later Odoo 18.0 builds call it
        to clean res.device.log)."""
        wanted = list(dict.fromkeys(identifiers))
        valid = [i for i in wanted if isinstance(i, str) and IDENTIFIER_RE.match(i)]
        missing = set(wanted) - set(valid)
        for start in range(0, len(valid), BATCH):
            chunk = valid[start : start + BATCH]

            def exists(client, chunk=chunk):
                pipe = client.pipeline(transaction=False)
                for identifier in chunk:
                    pipe.exists(self.key(identifier))
                return pipe.execute()

            found = self._call("get", exists)
            missing.update(i for i, hit in zip(chunk, found, strict=True) if not hit)
        return missing

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

    # -- switch-over ----------------------------------------------------------
    def _filesystem_file(self, sid):
        if not (self.config.migrate_filesystem and self.filesystem_path):
            return None
        path = os.path.join(self.filesystem_path, sid[:2], sid)
        return path if os.path.isfile(path) else None

    def _migrate(self, sid):
        """A session still in the filesystem store: move it (no forced logout
        on switch-over). Looked up once: the file is gone afterwards."""
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
        session = self.session_class(data, sid, False)
        lifetime = self.lifetime(session)
        payload = self._encode(session, lifetime)
        key = self.key(sid)
        # NX: a worker that migrated it first (and maybe saved since) wins.
        self._call(
            "save", lambda client: client.set(key, payload, ex=lifetime, nx=True)
        )
        with contextlib.suppress(OSError):
            os.unlink(path)
        metrics.FALLBACKS.labels("filesystem_migrated").inc()
        _logger.info("session store: moved session %s... from the filesystem", sid[:8])
        return session
