"""make run's Prometheus helpers (scripts/peak_dev/prometheus.py)."""

import json
import stat

import pytest
from peak_dev import prometheus, settings


def test_token_file_is_private_kept_and_overridable(tmp_path):
    path = tmp_path / "state" / "metrics-token"
    generated = prometheus.ensure_token_file(path)
    assert len(generated) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert prometheus.ensure_token_file(path) == generated, "kept across runs"
    chosen = "operator-chosen-token-0123456789"
    assert prometheus.ensure_token_file(path, chosen) == chosen
    assert path.read_text() == chosen
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_config_reads_the_token_from_a_file_never_inline(tmp_path):
    token_file = tmp_path / "metrics-token"
    prometheus.ensure_token_file(token_file, "never-in-the-config-0123456789")
    text = prometheus.render_config("127.0.0.1:8069", token_file, "127.0.0.1:9187")
    assert "never-in-the-config" not in text
    config = json.loads(text)
    odoo, governor = config["scrape_configs"]
    assert odoo["authorization"] == {
        "type": "Bearer",
        "credentials_file": str(token_file),
    }
    assert odoo["static_configs"] == [{"targets": ["127.0.0.1:8069"]}]
    assert governor["static_configs"] == [{"targets": ["127.0.0.1:9187"]}]
    assert config["rule_files"] == [str(prometheus.RULES_DIR / "*.rules.yml")]
    no_governor = json.loads(
        prometheus.render_config("127.0.0.1:8069", token_file, None)
    )
    assert [job["job_name"] for job in no_governor["scrape_configs"]] == ["odoo"]


def test_prometheus_port_and_token_settings(monkeypatch):
    monkeypatch.setenv("PEAK_PROMETHEUS_PORT", "19090")
    monkeypatch.setenv("PEAK_METRICS_TOKEN", "a-secret-metrics-token-0123")
    loaded = settings.load()
    assert loaded.prometheus_port == 19090
    assert loaded.masked()["metrics_token"] == "***"
    monkeypatch.setenv("PEAK_PROMETHEUS_PORT", "99999")
    with pytest.raises(settings.SettingsError, match="PEAK_PROMETHEUS_PORT"):
        settings.load()
