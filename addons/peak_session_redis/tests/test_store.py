# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The store against a real redis-server (no HTTP, no database)."""

import json
import os
import secrets
import time

import pytest

from odoo import http

from odoo.addons.peak_session_redis.lib import metrics
from odoo.addons.peak_session_redis.lib.config import StoreConfig
from odoo.addons.peak_session_redis.lib.store import (
    DEFAULT_LIFETIME,
    RedisSessionStore,
    SessionStoreUnavailable,
    refresh_step,
)

from .common import RedisSentinel, RedisServer, command_calls, private_redis

KEY_SECRET = secrets.token_hex(32)


@pytest.fixture
def redis_server():
    return private_redis()


@pytest.fixture
def store(redis_server, tmp_path):
    config = StoreConfig(
        key_secret=KEY_SECRET,
        url=redis_server.url,
        prefix=f"t{secrets.token_hex(4)}:",
        socket_timeout=0.5,
        connect_timeout=0.5,
        anonymous_ttl=600,
        retry_interval=0.5,
    )
    return RedisSessionStore(config, http.Session, filesystem_path=str(tmp_path))


def _logged_in(store, uid=2, db="nodb"):
    session = store.new()
    session.update({"uid": uid, "db": db, "login": "admin", "context": {}})
    return session


def test_keys_are_84_urlsafe_characters_and_unique(store):
    keys = {store.generate_key() for _i in range(200)}
    assert len(keys) == 200
    assert all(store.is_valid_key(key) and len(key) == 84 for key in keys)


def test_round_trip_json_with_ttl_by_kind(store, redis_server):
    client = redis_server.client()
    anonymous = store.new()
    anonymous["context"] = {"lang": "fr_FR"}
    store.save(anonymous)
    user = _logged_in(store)
    store.save(user)
    raw = client.get(store.key(user.sid))
    assert json.loads(raw)["data"]["uid"] == 2, "stored as JSON"
    assert 590 <= client.ttl(store.key(anonymous.sid)) <= 600
    assert DEFAULT_LIFETIME - 10 <= client.ttl(store.key(user.sid))
    loaded = store.get(user.sid)
    assert (loaded.sid, loaded.uid, loaded.is_new) == (user.sid, 2, False)
    assert store.get(anonymous.sid)["context"] == {"lang": "fr_FR"}


def test_a_visitors_cart_lives_as_long_as_odoo_keeps_sessions(store, redis_server):
    """Only empty anonymous sessions are short-lived: a cart or a login's
    second step is kept for Odoo's lifetime, as Odoo's own store does."""
    client = redis_server.client()
    for data in ({"sale_order_id": 42}, {"pre_uid": 2, "pre_login": "admin"}):
        visitor = store.new()
        visitor.update(dict(data, context={"lang": "fr_FR"}, geoip={"country": "BE"}))
        store.save(visitor)
        assert DEFAULT_LIFETIME - 10 <= client.ttl(store.key(visitor.sid))
    browsing = store.new()
    browsing.update({"context": {"lang": "fr_FR"}, "geoip": {}, "sale_order_id": None})
    store.save(browsing)
    assert client.ttl(store.key(browsing.sid)) <= 600


def test_sliding_expiry_rearms_without_rewriting(store, redis_server):
    client = redis_server.client()
    session = _logged_in(store)
    store.save(session)
    key = store.key(session.sid)
    before = command_calls(client)
    store.get(session.sid)
    after = command_calls(client)
    assert after.get("expire", 0) == before.get("expire", 0), "fresh: no write"
    assert after.get("set", 0) == before.get("set", 0)
    client.expire(key, DEFAULT_LIFETIME - refresh_step(DEFAULT_LIFETIME) - 100)
    store.get(session.sid)
    assert client.ttl(key) >= DEFAULT_LIFETIME - 5, "TTL re-armed by EXPIRE"
    assert command_calls(client).get("set", 0) == before.get("set", 0)


def test_rotate_replaces_the_key_atomically(store, redis_server):
    client = redis_server.client()
    session = _logged_in(store)
    store.save(session)
    old_sid = session.sid
    store.rotate(session, None)
    assert session.sid != old_sid and not session.should_rotate
    assert client.exists(store.key(old_sid)) == 0
    assert store.get(session.sid).uid == 2
    assert store.get(old_sid).uid is None, "the old sid is an empty new session"


def test_delete_and_device_revoke_without_scanning(store, redis_server):
    client = redis_server.client()
    sessions = [_logged_in(store) for _i in range(3)]
    for session in sessions:
        store.save(session)
    store.delete(sessions[0])
    assert store.get(sessions[0].sid).uid is None
    before = command_calls(client)
    store.delete_from_identifiers(
        [sessions[1].sid[:42], "../../etc/passwd", "*", "x" * 500, None]
    )
    after = command_calls(client)
    assert store.get(sessions[1].sid).uid is None
    assert store.get(sessions[2].sid).uid == 2
    assert after.get("del", 0) == before.get("del", 0) + 1, "one DEL"
    for scanning in ("scan", "keys"):
        assert after.get(scanning, 0) == before.get(scanning, 0)


def test_a_revoked_session_stays_revoked(store, redis_server, tmp_path):
    """ "Log out all devices" is final: a request that loaded the session
    before cannot save or rotate it back, and a copy in the old filesystem
    store is deleted, not moved."""
    client = redis_server.client()
    in_flight, rotating = _logged_in(store), _logged_in(store)
    for session in (in_flight, rotating):
        store.save(session)
        store.get(session.sid)  # a request has it loaded...
    old_sid = rotating.sid
    store.delete_from_identifiers([in_flight.sid[:42], old_sid[:42]])
    store.save(in_flight)  # ...and saves it at its end
    store.rotate(rotating, None)
    assert store.get(in_flight.sid).uid is None
    assert client.get(store.key(rotating.sid)) is None, "no rotated copy"
    assert store.get(old_sid).uid is None
    # Never moved to Redis yet, revoked: gone from the old store too.
    filesystem = http.FilesystemSessionStore(
        str(tmp_path), session_class=http.Session, renew_missing=True
    )
    old = filesystem.new()
    old.update({"uid": 2, "db": "nodb", "login": "admin"})
    filesystem.save(old)
    store.delete_from_identifiers([old.sid[:42]])
    assert not list(tmp_path.glob(f"*/{old.sid[:42]}*"))
    filesystem.save(old)  # a copy made again behind the store's back
    assert store.get(old.sid).uid is None, "a revoked file is not migrated"
    # Other sessions are untouched, and a new login saves as usual.
    fresh = _logged_in(store)
    store.save(fresh)
    assert store.get(fresh.sid).uid == 2


def test_missing_session_identifiers(store):
    kept = _logged_in(store)
    store.save(kept)
    gone = store.generate_key()[:42]
    assert store.get_missing_session_identifiers([kept.sid[:42], gone, "bad"]) == {
        gone,
        "bad",
    }


def test_bad_or_foreign_session_ids_never_reach_redis(store, redis_server):
    client = redis_server.client()
    victim = _logged_in(store)
    store.save(victim)
    # A session under another tenant's prefix, same identifier.
    foreign_key = "other:" + victim.sid[:42]
    client.set(foreign_key, "keep")
    before = command_calls(client)
    for sid in (
        "",
        "short",
        victim.sid + "A",  # oversized
        "A" * 10_000,
        victim.sid[:83] + "/",
        "other:" + victim.sid[:78],
        victim.sid[:42] + "*" * 42,
    ):
        assert store.get(sid).uid is None
    assert command_calls(client) == before, "no command for a malformed sid"
    # Same identifier, different full sid: not that session.
    twin = victim.sid[:42] + store.generate_key()[:42]
    assert store.get(twin).uid is None
    store.delete_from_identifiers([victim.sid[:42]])
    assert client.get(foreign_key) == b"keep"


def test_filesystem_sessions_move_once(store, redis_server, tmp_path):
    filesystem = http.FilesystemSessionStore(
        str(tmp_path), session_class=http.Session, renew_missing=True
    )
    old = filesystem.new()
    old.update({"uid": 2, "db": "nodb", "login": "admin"})
    filesystem.save(old)
    path = filesystem.get_session_filename(old.sid)
    moved_before = metrics.FALLBACKS.labels("filesystem_migrated")._value.get()
    assert store.get(old.sid).uid == 2, "still logged in after the switch"
    assert not os.path.exists(path), "moved, not copied"
    assert redis_server.client().exists(store.key(old.sid))
    assert store.get(old.sid).uid == 2
    moved = metrics.FALLBACKS.labels("filesystem_migrated")._value.get()
    assert moved == moved_before + 1
    # Turned off: the file stays and is not read.
    off = RedisSessionStore(
        StoreConfig(
            key_secret=KEY_SECRET,
            url=store.config.url,
            prefix=store.prefix,
            migrate_filesystem=False,
        ),
        http.Session,
        filesystem_path=str(tmp_path),
    )
    other = filesystem.new()
    other["uid"] = 3
    filesystem.save(other)
    assert off.get(other.sid).uid is None
    assert os.path.exists(filesystem.get_session_filename(other.sid))


def test_vacuum_only_empties_the_old_filesystem_store(store, tmp_path):
    filesystem = http.FilesystemSessionStore(
        str(tmp_path), session_class=http.Session, renew_missing=True
    )
    stale, fresh = filesystem.new(), filesystem.new()
    filesystem.save(stale)
    filesystem.save(fresh)
    old = time.time() - 3600
    os.utime(filesystem.get_session_filename(stale.sid), (old, old))
    kept = _logged_in(store)
    store.save(kept)
    assert store.vacuum(max_lifetime=600) == 1
    assert os.path.exists(filesystem.get_session_filename(fresh.sid))
    assert store.get(kept.sid).uid == 2


def test_outage_fails_fast_then_recovers(store, redis_server):
    session = _logged_in(store)
    store.save(session)
    redis_server.stop()
    try:
        errors_before = metrics.ERRORS.labels("get", "connection")._value.get()
        started = time.monotonic()
        with pytest.raises(SessionStoreUnavailable) as raised:
            store.get(session.sid)
        assert time.monotonic() - started < 1.5, "bounded by the timeouts"
        assert raised.value.code == 503
        assert store.degraded
        assert metrics.ERRORS.labels("get", "connection")._value.get() > errors_before
        started = time.monotonic()
        with pytest.raises(SessionStoreUnavailable):
            store.save(session)
        assert time.monotonic() - started < 0.05, "circuit open: no wait"
        with store.best_effort():
            spare = store.get(session.sid)
        assert spare.uid is None and spare.can_save is False
    finally:
        redis_server.start()
    time.sleep(store.config.retry_interval)
    # A private Redis without persistence restarts empty: the store recovers
    # by itself, the session is simply gone.
    assert store.get(session.sid).uid is None
    assert not store.degraded
    store.save(session)
    assert store.get(session.sid).uid == 2


def test_tls_and_password(tmp_path):
    """rediss:// with certificate verification, password from the env only."""
    server = RedisServer(tmp_path / "tls-redis", tls=True, password="s3cret-pw")
    server.start()
    try:

        def store_with(url, password):
            return RedisSessionStore(
                StoreConfig(
                    key_secret=KEY_SECRET,
                    url=url,
                    password=password,
                    prefix="tls:",
                    socket_timeout=0.5,
                    connect_timeout=0.5,
                ),
                http.Session,
            )

        good = store_with(server.url, "s3cret-pw")
        session = _logged_in(good)
        good.save(session)
        assert good.get(session.sid).uid == 2
        assert "s3cret-pw" not in str(good.config.masked())
        wrong_password = store_with(server.url, "guess")
        with pytest.raises(SessionStoreUnavailable):
            wrong_password.get(session.sid)
        unverified = store_with(server.url.split("?")[0], "s3cret-pw")
        with pytest.raises(SessionStoreUnavailable):
            unverified.get(session.sid)  # self-signed: refused without its CA
        plaintext = store_with(f"redis://127.0.0.1:{server.port}/0", "s3cret-pw")
        with pytest.raises(SessionStoreUnavailable):
            plaintext.get(session.sid)
    finally:
        server.stop()


def test_sentinel_finds_the_master(tmp_path):
    master = private_redis()
    sentinel = RedisSentinel(tmp_path / "sentinel", master)
    sentinel.start()
    try:
        store = RedisSessionStore(
            StoreConfig(
                key_secret=KEY_SECRET,
                sentinels=(("127.0.0.1", sentinel.port),),
                sentinel_master=sentinel.master_name,
                prefix=f"sentinel{secrets.token_hex(3)}:",
                socket_timeout=0.5,
                connect_timeout=0.5,
            ),
            http.Session,
        )
        session = _logged_in(store)
        store.save(session)
        assert store.get(session.sid).uid == 2
        assert master.client().exists(store.key(session.sid))
        lost = RedisSessionStore(
            StoreConfig(
                key_secret=KEY_SECRET,
                sentinels=(("127.0.0.1", sentinel.port),),
                sentinel_master="no-such-master",
                socket_timeout=0.5,
                connect_timeout=0.5,
            ),
            http.Session,
        )
        with pytest.raises(SessionStoreUnavailable):
            lost.get(session.sid)
    finally:
        sentinel.stop()


def _all_of(client):
    """Every key and value in Redis, as one text."""
    return " ".join(
        f"{key.decode()} {client.get(key) or b''!r}"
        for key in client.scan_iter(count=1000)
        if client.type(key) == b"string"
    )


def test_redis_never_holds_a_session_id(store, redis_server):
    """A Redis backup, replica or neighbour reads keyed hashes only: no key
    and no value gives a working cookie, nor the identifier device revoke
    uses; without the secret the sessions cannot even be found."""
    client = redis_server.client()
    user, visitor = _logged_in(store), store.new()
    visitor["sale_order_id"] = 7
    for session in (user, visitor):
        store.save(session)
    store.rotate(user, None)
    store.delete_from_identifiers([visitor.sid[:42]])
    dump = _all_of(client)
    assert store.prefix in dump  # the dump did read our keys...
    for session in (user, visitor):
        assert session.sid[:42] not in dump  # ...and no id, whole or part
        assert session.sid[42:] not in dump
    assert store.get(user.sid).uid == 2
    other = RedisSessionStore(
        StoreConfig(
            url=store.config.url, prefix=store.prefix, key_secret=secrets.token_hex(32)
        ),
        http.Session,
    )
    assert other.get(user.sid).uid is None


def _stored_by_18_0_1_0(store, client, session, lifetime=DEFAULT_LIFETIME):
    """A session as the previous version kept it: under its identifier,
    with the raw sid in the value."""
    doc = {"sid": session.sid, "lifetime": lifetime, "data": dict(session)}
    client.set(store.prefix + session.sid[:42], json.dumps(doc), ex=lifetime)


def test_sessions_of_the_previous_version_move_on_first_use(store, redis_server):
    client = redis_server.client()
    kept, revoked, gone = (_logged_in(store) for _i in range(3))
    for session in (kept, revoked, gone):
        _stored_by_18_0_1_0(store, client, session)
    # Revoked by the previous version (its marker), or by this one meanwhile.
    client.set(store.prefix + "revoked:" + revoked.sid[:42], 1)
    store.delete_from_identifiers([gone.sid[:42]])
    moved = metrics.FALLBACKS.labels("raw_key_moved")._value.get()
    assert store.get(kept.sid).uid == 2, "no logout at the upgrade"
    assert metrics.FALLBACKS.labels("raw_key_moved")._value.get() == moved + 1
    assert client.exists(store.prefix + kept.sid[:42]) == 0, "moved, not copied"
    assert kept.sid not in client.get(store.key(kept.sid)).decode()
    assert store.get(kept.sid).uid == 2
    for session in (revoked, gone):
        assert store.get(session.sid).uid is None
    # Another sid under the same identifier is not that session.
    twin = _logged_in(store)
    twin.sid = kept.sid[:42] + store.generate_key()[:42]
    _stored_by_18_0_1_0(store, client, twin)
    impostor = kept.sid[:42] + store.generate_key()[:42]
    assert store.get(impostor).uid is None
    assert store.get_missing_session_identifiers([twin.sid[:42]]) == set()
