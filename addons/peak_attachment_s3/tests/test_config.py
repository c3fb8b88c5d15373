# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Plain pytest tests for ``lib/config.py`` (no Odoo needed)."""

import importlib.util
import pathlib

import pytest


def _load_config():
    """By path: ``odoo.addons.peak_attachment_s3`` needs Odoo."""
    path = pathlib.Path(__file__).resolve().parent.parent / "lib" / "config.py"
    spec = importlib.util.spec_from_file_location("peak_s3_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


config = _load_config()
GOOD = {"PEAK_S3_BUCKET": "odoo-peak"}


def test_defaults():
    cfg = config.load({}, {})
    assert cfg.enabled is None
    assert cfg.key_prefix == "odoo/{db}/"
    assert cfg.presign_min_bytes == 0  # presigned URLs are off by default
    assert cfg.prefix_for("shop") == "odoo/shop/"


def test_environment_wins_over_config_section():
    section = {"s3_bucket": "from-file", "region": "eu-west-1", "s3_enabled": "0"}
    cfg = config.load({"PEAK_S3_BUCKET": "from-env", "PEAK_S3_ENABLED": "yes"}, section)
    assert cfg.bucket == "from-env"
    assert cfg.region == "eu-west-1"
    assert cfg.enabled is True
    assert config.load({}, section).enabled is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PEAK_S3_ENABLED": "maybe"}, "env PEAK_S3_ENABLED='maybe' is not a boolean"),
        ({"PEAK_S3_MAX_ATTEMPTS": "three"}, "is not an integer"),
        ({"PEAK_S3_DB_STORE_MAX_BYTES": "-1"}, "must be >= 0"),
        ({"PEAK_S3_CACHE_MAX_BYTES": "1G"}, "is not an integer"),
        ({"PEAK_S3_READ_TIMEOUT": "0"}, "must be > 0"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(env, {})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PEAK_S3_BUCKET": ""}, "no bucket"),
        ({"PEAK_S3_BUCKET": "Bad_Bucket"}, "not a valid bucket name"),
        ({"PEAK_S3_ENDPOINT_URL": "localhost:8333"}, "not an http"),
        ({"PEAK_S3_ENDPOINT_URL": "http://h:99999"}, "invalid port"),
        (
            {"PEAK_S3_KEY_PREFIX": "odoo/{dbname}/"},
            r"unknown placeholder\(s\) \{dbname\}",
        ),
        ({"PEAK_S3_KEY_PREFIX": "odoo/{db/"}, "PEAK_S3_KEY_PREFIX"),
        ({"PEAK_S3_KEY_PREFIX": "odoo-{db}"}, "must end with '/'"),
        ({"PEAK_S3_KEY_PREFIX": "/odoo/{db}/"}, "must end with '/'"),
        ({"PEAK_S3_ADDRESSING_STYLE": "dns"}, "ADDRESSING_STYLE"),
        ({"PEAK_S3_MAX_ATTEMPTS": "0"}, "at least 1"),
        ({"PEAK_S3_CACHE_DIR": "cache"}, "PEAK_S3_CACHE_DIR 'cache' must be absolute"),
    ],
)
def test_validate_rejects(env, message):
    cfg = config.load({**GOOD, **env}, {})
    with pytest.raises(config.ConfigError, match=message):
        config.validate(cfg)


def test_valid_configuration_passes():
    cfg = config.load(
        {
            **GOOD,
            "PEAK_S3_ENDPOINT_URL": "https://s3.example:9000",
            "PEAK_S3_KEY_PREFIX": "odoo/",
        },
        {},
    )
    config.validate(cfg)
    assert not cfg.prefix_per_database


def test_endpoint_password_is_masked():
    cfg = config.load({**GOOD, "PEAK_S3_ENDPOINT_URL": "https://u:s3cret@h"}, {})
    assert "s3cret" not in str(cfg.masked())


def test_keys_are_content_addressed():
    sha = "ab" + "0" * 38
    fname = config.fname_for(sha)
    assert fname == f"s3://ab/{sha}"
    assert config.key_for("odoo/db/", fname) == f"odoo/db/ab/{sha}"
    assert config.fname_from_key("odoo/db/", f"odoo/db/ab/{sha}") == fname
    assert config.fname_from_key("odoo/db/", f"odoo/db2/ab/{sha}") is None
    assert config.fname_from_key("odoo/db/", "odoo/db/notes.txt") is None


def test_lock_ids_are_the_first_byte_in_both_storages():
    for sha in ("0" * 40, "f" * 40, "7f" + "0" * 38, "80" + "1" * 38):
        value = config.lock_id(config.fname_for(sha))
        assert value == int(sha[:2], 16)
        assert value == config.lock_id(f"{sha[:2]}/{sha}")
    assert config.lock_id("f" * 40) == 255
