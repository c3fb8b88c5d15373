# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Configuration rules, without Redis or a database."""

import pytest

from odoo.addons.peak_session_redis.lib import keys
from odoo.addons.peak_session_redis.lib.config import (
    DEFAULT_PREFIX,
    ConfigError,
    load,
    mask_url,
)


def test_defaults_leave_the_filesystem_store():
    config = load(env={}, section={})
    assert not config.enabled
    assert config.prefix == DEFAULT_PREFIX
    assert config.socket_timeout <= 1 and config.connect_timeout <= 1
    assert config.migrate_filesystem


def test_env_wins_over_the_section_and_the_section_over_defaults():
    section = {"url": "redis://file:6379/0", "prefix": "file:", "anonymous_ttl": "600"}
    env = {"PEAK_REDIS_URL": "rediss://env:6380/2", "PEAK_REDIS_PREFIX": "env:"}
    config = load(env=env, section=section)
    assert (config.url, config.prefix, config.anonymous_ttl) == (
        "rediss://env:6380/2",
        "env:",
        600,
    )
    assert config.enabled


def test_password_only_from_env_and_masked():
    with pytest.raises(ConfigError, match="PEAK_REDIS_PASSWORD"):
        load(env={}, section={"url": "redis://h:1/0", "password": "s3cret"})
    config = load(
        env={"PEAK_REDIS_URL": "redis://u:urlpass@h:1/0", "PEAK_REDIS_PASSWORD": "p"},
        section={},
    )
    shown = str(config.masked())
    assert "urlpass" not in shown and "'p'" not in shown
    assert mask_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"


def test_key_secret_only_from_env_long_enough_and_masked():
    with pytest.raises(ConfigError, match="PEAK_REDIS_KEY_SECRET"):
        load(env={}, section={"url": "redis://h:1/0", "key_secret": "k" * 64})
    with pytest.raises(ConfigError, match="too short"):
        load(env={"PEAK_REDIS_KEY_SECRET": "short"}, section={})
    config = load(env={"PEAK_REDIS_KEY_SECRET": "k" * 64}, section={})
    assert config.key_secret == "k" * 64
    assert "k" * 64 not in str(config.masked())


def test_a_generated_secret_is_private_and_stable(tmp_path):
    first = keys.secret_from_file(str(tmp_path / "data"))
    path = tmp_path / "data" / keys.SECRET_FILE
    assert path.stat().st_mode & 0o077 == 0
    assert keys.secret_from_file(str(tmp_path / "data")) == first  # other workers
    path.write_text("half")
    with pytest.raises(ValueError, match="no usable secret"):
        keys.secret_from_file(str(tmp_path / "data"))


def test_sentinels():
    config = load(
        env={
            "PEAK_REDIS_SENTINELS": "s1:26379, s2:26380",
            "PEAK_REDIS_SENTINEL_MASTER": "odoo",
        },
        section={},
    )
    assert config.sentinels == (("s1", 26379), ("s2", 26380))
    assert config.target == "sentinel://s1:26379,s2:26380/odoo"
    with pytest.raises(ConfigError, match="SENTINEL_MASTER"):
        load(env={"PEAK_REDIS_SENTINELS": "s1:26379"}, section={})
    with pytest.raises(ConfigError, match="host:port"):
        load(
            env={"PEAK_REDIS_SENTINELS": "s1", "PEAK_REDIS_SENTINEL_MASTER": "m"},
            section={},
        )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"PEAK_REDIS_URL": "http://h/"}, "scheme"),
        ({"PEAK_REDIS_PREFIX": "bad prefix*"}, "PEAK_REDIS_PREFIX"),
        ({"PEAK_REDIS_SOCKET_TIMEOUT": "soon"}, "not a number"),
        ({"PEAK_REDIS_CONNECT_TIMEOUT": "0"}, "between"),
        ({"PEAK_REDIS_ANONYMOUS_TTL": "5"}, "between"),
        ({"PEAK_REDIS_MIGRATE_FILESYSTEM": "maybe"}, "not a boolean"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load(env=env, section={})
