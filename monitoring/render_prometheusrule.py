"""Write k8s/base/prometheusrule.yaml from monitoring/prometheus/peak.rules.yml.

The plain rules file is the source (``make run``'s Prometheus and promtool's
unit tests read it); the PrometheusRule carries the same groups for the
Prometheus Operator. tests/test_peak_metrics_monitoring.py fails when the two
drift: run ``python monitoring/render_prometheusrule.py`` after editing rules.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "monitoring" / "prometheus" / "peak.rules.yml"
MANIFEST = ROOT / "k8s" / "base" / "prometheusrule.yaml"
HEADER = """\
# Odoo Peak alert and recording rules for the Prometheus Operator.
# GENERATED from monitoring/prometheus/peak.rules.yml by
# monitoring/render_prometheusrule.py: edit the rules file, then re-run it.
# Metrics and runbooks: docs/metrics.md. Whether a Prometheus loads this
# depends on its ruleSelector (often a `release` label): add it in the overlay.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: odoo-peak
  labels:
    app.kubernetes.io/name: odoo-peak
    app.kubernetes.io/component: alerting
spec:
"""


def render() -> str:
    body = [
        line
        for line in RULES.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return HEADER + "".join(f"  {line}\n" for line in body)


def main() -> int:
    MANIFEST.write_text(render())
    print(f"wrote {MANIFEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
