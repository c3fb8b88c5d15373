"""Alert rules, their PrometheusRule twin, the Grafana dashboard and the metric
reference, checked with the real promtool (Debian package ``prometheus``)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "monitoring" / "prometheus" / "peak.rules.yml"
RULE_TESTS = ROOT / "monitoring" / "prometheus" / "tests" / "peak_rules_test.yml"
DASHBOARD = ROOT / "monitoring" / "grafana" / "odoo-peak-dashboard.json"
MANIFEST = ROOT / "k8s" / "base" / "prometheusrule.yaml"
DOC = ROOT / "docs" / "metrics.md"
METRIC_RE = re.compile(r"\bpeak_[a-z0-9_]+")


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    assert binary, "promtool missing: apt-get install prometheus"
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_promtool_check_rules():
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_rule_unit_tests():
    done = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rule_unit_tests_can_fail(tmp_path):
    """The unit tests really check thresholds: a looser rule fails them."""
    loose = RULES.read_text().replace("> 900", "> 5000")
    assert loose != RULES.read_text()
    (tmp_path / "peak.rules.yml").write_text(loose)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    done = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path / "tests")
    assert done.returncode != 0
    assert "PeakOrderConfirmationSlow" in done.stdout + done.stderr


def test_every_alert_has_a_runbook_and_a_severity():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert len(alerts) >= 12
    for alert in alerts:
        assert alert["labels"]["severity"] in {"warning", "critical"}, alert["alert"]
        assert len(alert["annotations"].get("runbook", "")) > 20, alert["alert"]


def test_prometheusrule_manifest_carries_the_same_groups():
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"], (
        "k8s/base/prometheusrule.yaml drifted: run "
        f"{sys.executable} monitoring/render_prometheusrule.py"
    )
    kustomization = (ROOT / "k8s" / "base" / "kustomization.yaml").read_text()
    assert "- prometheusrule.yaml" in kustomization


def test_dashboard_queries_are_valid_promql(tmp_path):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    assert len(exprs) >= 20
    # promtool parses recording rules' PromQL: one rule per dashboard query.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:q{i}", "expr": expr}
                    for i, expr in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("source", [RULES, DASHBOARD])
def test_every_metric_used_is_documented(source):
    documented = set(METRIC_RE.findall(DOC.read_text()))
    used = {
        name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        for name in METRIC_RE.findall(source.read_text())
    }
    missing = sorted(used - documented)
    assert not missing, f"{source.name} uses metrics docs/metrics.md lacks: {missing}"
