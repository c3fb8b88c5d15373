"""Shared platform: each tenant reaches its own sessions only.

The Redis ACL users of the rendered shared overlay (ConfigMap
odoo-peak-redis-acl of each tenant namespace) are created, as the runbook
does, on a real redis-server. The real session store (peak_session_redis'
RedisSessionStore, as Odoo builds it from PEAK_REDIS_*) works for tenant A
with nothing but its ACL; A's credentials cannot read, write, scan, script
around or flush tenant B's keys.
"""

import secrets
import shutil
import sys
from pathlib import Path

import pytest
import redis
from test_deploy_k8s import config_data, named, namespaces, render

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from peak_dev.redis import RedisServer  # noqa: E402

pytestmark = pytest.mark.skipif(
    not shutil.which("redis-server"), reason="needs redis-server (Debian package)"
)
ADMIN_PASSWORD = secrets.token_hex(16)


@pytest.fixture(scope="module")
def tenants():
    """{namespace: (ACL ConfigMap data, odoo-peak-config data, web env)}."""
    docs = render("k8s/overlays/shared")
    out = {}
    for ns in namespaces(docs):
        acl = named(docs, "ConfigMap", "odoo-peak-redis-acl", ns)["data"]
        web = named(docs, "Deployment", "odoo-web", ns)["spec"]["template"]["spec"]
        env = {e["name"]: e for e in web["containers"][0]["env"]}
        out[ns] = acl, config_data(docs, ns), env
    return out


def setuser_args(acl: dict, password: str) -> list[str]:
    """ACL SETUSER's arguments, as k8s/README.md builds them."""
    return [
        acl["username"],
        "reset",
        "on",
        f">{password}",
        f"~{acl['key-prefix']}*",
        *acl["rules"].split(),
    ]


def test_each_tenant_has_its_own_user_prefix_and_secret(tenants):
    assert len(tenants) >= 2
    users, refs, rules = set(), set(), set()
    for ns, (acl, config, env) in tenants.items():
        assert acl["username"] == config["PEAK_REDIS_USERNAME"]
        assert acl["key-prefix"] == config["PEAK_REDIS_PREFIX"]
        users.add(acl["username"])
        ref = env["PEAK_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] != "odoo-peak-secrets" and ref.get("optional") is False
        refs.add((ns, ref["name"], ref["key"]))
        rules.add(acl["rules"])
        tokens = acl["rules"].split()
        # No key or channel pattern of its own, no command category granted.
        assert tokens[:2] == ["resetchannels", "-@all"], ns
        assert all(t.startswith("+") and "@" not in t for t in tokens[2:]), ns
    assert len(users) == len(refs) == len(tenants)
    prefixes = [acl["key-prefix"] for acl, _c, _e in tenants.values()]
    for a in prefixes:  # no tenant's pattern matches another's keys
        assert not any(b != a and b.startswith(a) for b in prefixes)
    assert len(rules) == 1


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory, tenants):
    server = RedisServer(tmp_path_factory.mktemp("shared-redis"), password=None)
    server.start()
    admin = server.client()
    admin.config_set("requirepass", ADMIN_PASSWORD)
    admin = redis.Redis(port=server.port, password=ADMIN_PASSWORD)
    passwords = {}
    for ns, (acl, _config, _env) in tenants.items():
        passwords[ns] = secrets.token_hex(16)
        admin.execute_command("ACL", "SETUSER", *setuser_args(acl, passwords[ns]))
    try:
        yield server, admin, passwords
    finally:
        server.stop()


def _store(server, tenant, password):
    """The store Odoo builds for this tenant: PEAK_REDIS_* as the pods get
    them, read by the addon's own loader."""
    from odoo import http

    import odoo.addons

    if str(ROOT / "addons") not in odoo.addons.__path__:
        odoo.addons.__path__.append(str(ROOT / "addons"))
    from odoo.addons.peak_session_redis.lib import config
    from odoo.addons.peak_session_redis.lib.store import RedisSessionStore

    acl, settings, _env = tenant
    cfg = config.load(
        {
            "PEAK_REDIS_URL": server.url,
            "PEAK_REDIS_USERNAME": settings["PEAK_REDIS_USERNAME"],
            "PEAK_REDIS_PASSWORD": password,
            "PEAK_REDIS_PREFIX": settings["PEAK_REDIS_PREFIX"],
            "PEAK_REDIS_KEY_SECRET": secrets.token_hex(32),
        },
        {},
    )
    return RedisSessionStore(cfg, http.Session), cfg


def test_the_session_store_works_with_the_tenant_acl_only(shared_redis, tenants):
    server, admin, passwords = shared_redis
    admin.execute_command("ACL", "LOG", "RESET")
    ns = sorted(tenants)[0]
    store, cfg = _store(server, tenants[ns], passwords[ns])
    assert store.ping() >= 0
    session = store.new()
    session["uid"], session["db"] = 2, "peak"  # a logged-in user
    store.save(session)
    assert store.get(session.sid)["uid"] == 2
    old_sid = session.sid
    store.rotate(session, env=None)
    assert store.get(old_sid).sid != old_sid  # the old one is gone
    assert store.get(session.sid)["uid"] == 2
    # A session of the previous version, under its raw identifier, is moved.
    raw = store.new()
    admin.set(
        store.raw_keys(raw.sid)[0],
        f'{{"sid": "{raw.sid}", "lifetime": 600, "data": {{"uid": 5}}}}',
    )
    assert store.get(raw.sid)["uid"] == 5
    # Device revoke and the existence check of res.device.log.
    assert store.get_missing_session_identifiers([session.sid[:42]]) == set()
    store.delete_from_identifiers([session.sid[:42]])
    assert store.get_missing_session_identifiers([session.sid[:42]]) == {
        session.sid[:42]
    }
    store.save(session)  # revoked: not written back
    assert store.get(session.sid).sid != session.sid
    store.delete(raw)
    # The script cache was empty: EVALSHA failed once, SCRIPT LOAD, EVALSHA.
    admin.script_flush()
    store.save(store.new())
    assert not store.degraded
    denied = admin.execute_command("ACL", "LOG")
    assert denied == [], denied
    mine = [k.decode() for k in admin.scan_iter(count=1000)]
    assert mine and all(k.startswith(cfg.prefix) for k in mine)
    admin.flushall()


def test_a_tenant_cannot_reach_another_tenants_keys(shared_redis, tenants):
    server, admin, passwords = shared_redis
    ns_a, ns_b = sorted(tenants)[:2]
    prefix_a = tenants[ns_a][0]["key-prefix"]
    prefix_b = tenants[ns_b][0]["key-prefix"]
    victim = f"{prefix_b}s:victim"
    admin.set(victim, "B's session")
    a = redis.Redis(
        port=server.port,
        username=tenants[ns_a][0]["username"],
        password=passwords[ns_a],
    )
    assert a.set(f"{prefix_a}s:mine", "1") and a.get(f"{prefix_a}s:mine") == b"1"
    # Another tenant's keys, by every command A has.
    for call in (
        lambda: a.get(victim),
        lambda: a.set(victim, "x"),
        lambda: a.delete(victim),
        lambda: a.exists(victim),
        lambda: a.ttl(victim),
        lambda: a.expire(victim, 1),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()
    # Nothing that lists, dumps or wipes the keyspace, or escapes ACLs.
    for command in (
        ("SCAN", 0),
        ("KEYS", "*"),
        ("RANDOMKEY",),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "requirepass"),
        ("SELECT", 1),
        ("ACL", "LIST"),
        ("MONITOR",),
        ("SWAPDB", 0, 1),
        ("BGSAVE",),
        ("CLIENT", "LIST"),
        ("INFO",),
        ("PUBLISH", "ch", "x"),
        ("EVAL", "return redis.call('GET', KEYS[1])", 1, victim),
        ("MIGRATE", "127.0.0.1", 1, victim, 0, 1),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            a.execute_command(*command)
    # A script A loads may declare its own key and name B's inside: Redis
    # checks every redis.call against A's key pattern all the same.
    sha = a.script_load("redis.call('GET', KEYS[1]); return redis.call('GET', ARGV[1])")
    with pytest.raises(
        redis.exceptions.ResponseError, match="(?i)can.t access|no permission"
    ):
        a.evalsha(sha, 1, f"{prefix_a}s:mine", victim)
    # Queued inside MULTI: the transaction is refused as a whole.
    pipe = a.pipeline(transaction=True)
    pipe.set(f"{prefix_a}s:mine", "2")
    pipe.get(victim)
    with pytest.raises(redis.exceptions.RedisError):
        pipe.execute()
    assert admin.get(victim) == b"B's session"
    assert admin.get(f"{prefix_a}s:mine") == b"1"
