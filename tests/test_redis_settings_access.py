"""Who the session store authenticates as, and over what: a Redis ACL user
(``PEAK_REDIS_USERNAME``), the Sentinels' own password and TLS to the
Sentinels (``peak_settings.redis``, read by Odoo and the doctor alike).
Pure: no server; the real servers are in test_redis_tenant_acl.py and
test_deploy_redis_sentinel.py."""

import pytest

from peak_settings import SettingError
from peak_settings import redis as redis_settings

SENTINELS = {
    "PEAK_REDIS_SENTINELS": "redis-0.redis-headless:26379,redis-1.redis-headless:26379",
    "PEAK_REDIS_SENTINEL_MASTER": "peak-sessions",
}


def test_username_env_over_section_password_env_only():
    env = {"PEAK_REDIS_URL": "redis://r:6379/0", "PEAK_REDIS_PASSWORD": "pw"}
    cfg = redis_settings.load(env, {"username": "peak-file"})
    assert cfg.username == "peak-file"
    cfg = redis_settings.load({**env, "PEAK_REDIS_USERNAME": "peak-acme"}, {})
    assert cfg.username == "peak-acme" and cfg.password == "pw"
    assert cfg.masked()["password"] == "***"


def test_sentinel_password_and_tls(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    env = {
        **SENTINELS,
        "PEAK_REDIS_PASSWORD": "data-pw",
        "PEAK_REDIS_SENTINEL_PASSWORD": "sentinel-pw",
        "PEAK_REDIS_SENTINEL_TLS": "true",
        "PEAK_REDIS_TLS_CA_FILE": str(ca),
    }
    cfg = redis_settings.load(env, {})
    assert cfg.sentinel_password == "sentinel-pw" and cfg.sentinel_tls is True
    assert cfg.tls_ca_file == str(ca)
    masked = cfg.masked()
    assert masked["sentinel_password"] == "***" and "sentinel-pw" not in str(masked)
    # The file's section may switch TLS on; never hold a password.
    section = {"sentinel_tls": "yes", "tls_ca_file": str(ca)}
    env.pop("PEAK_REDIS_SENTINEL_TLS")
    assert redis_settings.load(env, section).sentinel_tls is True


def test_the_client_authenticates_to_the_sentinels_over_tls(tmp_path):
    """What make_client hands redis-py, without connecting."""
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    cfg = redis_settings.load(
        {
            **SENTINELS,
            "PEAK_REDIS_PASSWORD": "data-pw",
            "PEAK_REDIS_SENTINEL_PASSWORD": "sentinel-pw",
            "PEAK_REDIS_SENTINEL_TLS": "1",
            "PEAK_REDIS_TLS_CA_FILE": str(ca),
        },
        {},
    )
    client = redis_settings.make_client(cfg)
    pool = client.connection_pool
    manager = pool.sentinel_manager
    for sentinel in manager.sentinels:
        kwargs = sentinel.connection_pool.connection_kwargs
        assert kwargs["password"] == "sentinel-pw"
        assert sentinel.connection_pool.connection_class.__name__ == "SSLConnection"
        assert kwargs["ssl_ca_certs"] == str(ca) and kwargs["ssl_check_hostname"]
    assert pool.connection_class.__name__ == "SentinelManagedSSLConnection"
    assert pool.connection_kwargs["password"] == "data-pw"
    assert pool.connection_kwargs["ssl_ca_certs"] == str(ca)


@pytest.mark.parametrize(
    ("env", "section", "message"),
    [
        (
            {"PEAK_REDIS_URL": "redis://r:6379/0", "PEAK_REDIS_USERNAME": "peak-a"},
            {},
            "env PEAK_REDIS_USERNAME='peak-a' needs env PEAK_REDIS_PASSWORD",
        ),
        (
            {
                "PEAK_REDIS_URL": "redis://other@r:6379/0",
                "PEAK_REDIS_USERNAME": "peak-a",
                "PEAK_REDIS_PASSWORD": "pw",
            },
            {},
            "and a user in PEAK_REDIS_URL",
        ),
        (
            {"PEAK_REDIS_URL": "redis://r:6379/0", "PEAK_REDIS_SENTINEL_PASSWORD": "x"},
            {},
            "PEAK_REDIS_SENTINEL_PASSWORD needs PEAK_REDIS_SENTINELS",
        ),
        (
            {**SENTINELS},
            {"sentinel_password": "x"},
            "[peak_session_redis] sentinel_password is not read from the config file",
        ),
        (
            {"PEAK_REDIS_URL": "rediss://r:6379/0"},
            {"sentinel_tls": "true"},
            "[peak_session_redis] sentinel_tls=True needs PEAK_REDIS_SENTINELS",
        ),
        (
            {**SENTINELS, "PEAK_REDIS_SENTINEL_TLS": "maybe"},
            {},
            "env PEAK_REDIS_SENTINEL_TLS='maybe' is not a boolean",
        ),
        (
            {**SENTINELS, "PEAK_REDIS_TLS_CA_FILE": "/etc/hosts"},
            {},
            "needs rediss:// in PEAK_REDIS_URL or PEAK_REDIS_SENTINEL_TLS=true",
        ),
        (
            {"PEAK_REDIS_URL": "rediss://r:6379/0"},
            {"tls_ca_file": "/nonexistent/ca.crt"},
            "[peak_session_redis] tls_ca_file='/nonexistent/ca.crt' is not a readable",
        ),
    ],
    ids=[
        "user-without-password",
        "user-twice",
        "sentinel-password-without-sentinels",
        "sentinel-password-in-file",
        "sentinel-tls-without-sentinels",
        "sentinel-tls-not-boolean",
        "ca-without-tls",
        "ca-missing",
    ],
)
def test_settings_that_cannot_work_are_refused(env, section, message):
    with pytest.raises(SettingError) as caught:
        redis_settings.load(env, section)
    assert message in str(caught.value)
