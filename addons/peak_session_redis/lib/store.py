# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Odoo 18 HTTP sessions in Redis.

One key per session, named after a keyed hash of the session *identifier*
(``sid[:42]``, what ``res.device.log`` records), holding JSON ``{"check",
"lifetime", "data"}`` where ``check`` is a keyed hash of the full sid
(:mod:`.keys`): no sid is ever in Redis. Device revoke and "log out all
devices" delete keys by name, never scan the keyspace; ``get`` checks the
full sid in constant time. Sessions stored before (under the identifier
itself, with the raw sid) are moved on their first use.

Every call is bounded by the socket/connect timeouts. After a connection
failure the store answers "unavailable" at once for ``retry_interval`` seconds
(no request waits on a dead Redis twice in a row), then tries again: recovery
needs no restart. Nothing talks to Redis before the first request.
"""

import base64
import contextlib
import hmac
import json
import logging
import os
import re
import threading
import time
from hashlib import sha512

import redis

from odoo.tools._vendor import sessions

from . import keys, metrics
from .config import StoreConfig, make_client
from .switchover import DEFAULT_LIFETIME, REVOKED, Switchover
from .unavailable import SessionStoreUnavailable, reason_of

__all__ = ["RedisSessionStore", "SessionStoreUnavailable", "carries_data"]

_logger = logging.getLogger(__name__)

SESSION_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{84}$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_-]{42}$")
BATCH = 500  # keys per round trip for revoke / existence checks


#: What every new session holds (``odoo.http.get_default_session``) and what
#: browsing adds by itself (language, geolocation): a session with nothing
#: more is empty, and only empty sessions get the short anonymous TTL.
EMPTY_SESSION_KEYS = frozenset(
    {"context", "db", "debug", "login", "uid", "session_token", "_trace", "geoip"}
)


def carries_data(session) -> bool:
    """Whether an anonymous session holds anything a visitor would lose (a
    website cart's ``sale_order_id``, 2FA's ``pre_uid``...)."""
    return any(value for key, value in session.items() if key not in EMPTY_SESSION_KEYS)


#: A revoked identifier is remembered this long (Odoo's longest session
#: lifetime): no in-flight request and no old session file brings it back.
REVOKED_TTL = 30 * 24 * 3600
# SET the session unless its identifier (or, rotating, the old one) was
# revoked: one round trip, atomic with the revocation's MULTI.
#   KEYS: session key, its marker[, old key, old marker]  ARGV: payload, ttl, nx
#   returns SAVED, REVOKED, or NOT_SET (NX: the key was there already)
SAVED, NOT_SET = 1, 0  # and REVOKED
SAVE_UNLESS_REVOKED = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
if KEYS[3] then redis.call('DEL', KEYS[3]) end
if ARGV[3] == '1' then
  return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') and 1 or 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def refresh_step(lifetime: int) -> int:
    """Sliding expiry re-arms the TTL once it has dropped by this much: one
    EXPIRE per ~10 % of the lifetime instead of a write on every request."""
    return max(60, lifetime // 10)


class RedisSessionStore(Switchover, sessions.SessionStore):
    """The store Odoo 18 calls as ``odoo.http.root.session_store``."""

    def __init__(self, config: StoreConfig, session_class, filesystem_path=None):
        super().__init__(session_class)
        if not config.key_secret:
            raise ValueError("the session store needs a key secret")
        self.config = config
        self.prefix = config.prefix
        self._secret = config.key_secret.encode()
        # The old store, read once per missing sid when migration is on.
        self.filesystem_path = filesystem_path
        self._client = None
        self._client_lock = threading.Lock()
        self._down_until = 0.0
        self._degraded = False
        self._lifetimes = {}  # db -> (seconds, read at)
        self._local = threading.local()
        self._save_script = None

    # -- plumbing -----------------------------------------------------------
    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = make_client(self.config)
        return self._client

    def key(self, sid_or_identifier: str) -> str:
        return self.prefix + "s:" + keys.digest(self._secret, sid_or_identifier[:42])

    def revoked_key(self, sid_or_identifier: str) -> str:
        return self.prefix + "r:" + keys.digest(self._secret, sid_or_identifier[:42])

    def raw_keys(self, sid_or_identifier: str) -> list:
        """Where 18.0.1.0 kept a session and its revocation: the identifier
        itself (read to move what is left, revoked alike, never written)."""
        identifier = sid_or_identifier[:42]
        return [self.prefix + identifier, self.prefix + "revoked:" + identifier]

    def _save(self, operation, sid, payload, lifetime, old_keys=(), nx=False):
        """SET ``sid`` (deleting the session under ``old_keys``, [key,
        marker]) unless either was revoked; returns SAVED, REVOKED or
        NOT_SET."""
        names = [self.key(sid), self.revoked_key(sid), *old_keys]
        if self._save_script is None:  # EVALSHA, loaded again after a failover
            self._save_script = self.client.register_script(SAVE_UNLESS_REVOKED)
        script = self._save_script
        args = [payload, lifetime, "1" if nx else "0"]
        outcome = self._call(operation, lambda client: script(names, args, client))
        if outcome == REVOKED:
            metrics.FALLBACKS.labels("revoked_not_saved").inc()
        return outcome

    def _call(self, operation: str, func):
        if time.monotonic() < self._down_until:
            raise SessionStoreUnavailable(self._down_until - time.monotonic())
        started = time.perf_counter()
        try:
            result = func(self.client)
        except redis.exceptions.RedisError as exc:
            reason = reason_of(exc)
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
        ``sessions.max_inactivity_seconds`` of its database (read through the
        request's env, cached per database for the calls that have none) for
        a logged-in user or a visitor whose session carries something (a
        cart, a login's second step); the anonymous TTL for empty ones."""
        if not session.get("uid") and not carries_data(session):
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
        check = keys.digest(self._secret, session.sid)
        return json.dumps(
            {"check": check, "lifetime": lifetime, "data": dict(session)},
            separators=(",", ":"),
        ).encode()

    def _decode(self, sid: str, raw):
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            data, lifetime = doc["data"], int(doc["lifetime"])
            # A raw sid: a session stored by 18.0.1.0, being moved.
            stored, presented = (
                (doc["check"], keys.digest(self._secret, sid))
                if "check" in doc
                else (doc["sid"], sid)
            )
        except (ValueError, KeyError, TypeError):
            _logger.warning("session store: unreadable session %s..., ignored", sid[:4])
            return None
        if not (
            isinstance(stored, str)
            and isinstance(data, dict)
            and hmac.compare_digest(stored.encode(), presented.encode())
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
            return self._move_raw(sid) or self._migrate(sid) or self.new()
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
        # A request that loaded the session before it was revoked must not
        # write it back.
        self._save("save", session.sid, payload, lifetime)

    def delete(self, session):
        if not self.is_valid_key(session.sid):
            return
        names = [self.key(session.sid), self.raw_keys(session.sid)[0]]
        self._call("delete", lambda client: client.delete(*names))

    def rotate(self, session, env):
        from odoo.service import security

        old_sid = session.sid if self.is_valid_key(session.sid) else None
        session.sid = self.generate_key()
        if session.uid and env:
            session.session_token = security.compute_session_token(session, env)
        session.should_rotate = False
        lifetime = self.lifetime(session, env)
        payload = self._encode(session, lifetime)
        # Atomic: the old key goes and the new one comes, unless the old
        # session was revoked meanwhile (then neither: it stays logged out).
        old_keys = [self.key(old_sid), self.revoked_key(old_sid)] if old_sid else []
        self._save("rotate", session.sid, payload, lifetime, old_keys=old_keys)

    def delete_from_identifiers(self, identifiers):
        """Device revoke: one DEL per 500 identifiers, never a SCAN, each
        with a revocation marker (no request in flight, no session file of
        the old store brings it back). Anything that is not an identifier is
        dropped before Redis sees it."""
        valid = [
            identifier
            for identifier in dict.fromkeys(identifiers)
            if isinstance(identifier, str) and IDENTIFIER_RE.match(identifier)
        ]
        for start in range(0, len(valid), BATCH):
            chunk = valid[start : start + BATCH]

            def revoke(client, chunk=chunk):
                pipe = client.pipeline(transaction=True)  # markers and DEL at once
                doomed = []
                for identifier in chunk:
                    pipe.set(self.revoked_key(identifier), 1, ex=REVOKED_TTL)
                    doomed += [self.key(identifier), self.raw_keys(identifier)[0]]
                pipe.delete(*doomed)
                return pipe.execute()

            self._call("revoke", revoke)
        for identifier in valid:
            self._remove_filesystem_copies(identifier)

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
                    pipe.exists(self.key(identifier), self.raw_keys(identifier)[0])
                return pipe.execute()

            found = self._call("get", exists)
            missing.update(i for i, hit in zip(chunk, found, strict=True) if not hit)
        return missing
