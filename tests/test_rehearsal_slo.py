"""SLO thresholds of peak-rehearsal: parsing, evaluation, one-line input errors."""

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "rehearsal"))

from peak_rehearsal.errors import InputError  # noqa: E402
from peak_rehearsal.slo import evaluate, load_slo, parse_slo  # noqa: E402
from peak_rehearsal.stats import (  # noqa: E402
    buckets,
    overall_error_rate,
    percentile,
    summarize_step,
    summarize_steps,
)

SLO = {
    "name": "exec",
    "steps": {
        "stock.lookup": {"p50_ms": 300, "p95_ms": 800},
        "order.confirm": {"p95_ms": 2000, "max_error_rate": 0.0},
        "invoice.post": {"p95_ms": 3000, "p99_ms": 6000},
    },
    "max_error_rate": 0.01,
    "queue": {
        "critical": {"max_backlog_age_s": 30},
        "bulk": {"max_backlog_age_s": 900, "min_jobs_per_min": 1},
    },
}


def write(tmp_path: Path, data, name: str = "slo.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data)
    path.write_text(text, encoding="utf-8")
    return path


def results_with(steps: dict, queue: dict, error_rate: float = 0.0) -> dict:
    return {"steps": steps, "queue": queue, "error_rate": error_rate}


def step(count=100, errors=0, p50=100.0, p95=500.0, p99=900.0) -> dict:
    return {
        "count": count,
        "errors": errors,
        "error_rate": errors / count if count else None,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
    }


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {check["name"]: check for check in checks}


def test_parse_keeps_canonical_order(tmp_path):
    slo = load_slo(write(tmp_path, SLO))
    assert slo.name == "exec"
    assert list(slo.steps) == ["order.confirm", "stock.lookup", "invoice.post"]
    assert slo.steps["order.confirm"] == {"p95_ms": 2000, "max_error_rate": 0.0}
    assert slo.max_error_rate == 0.01
    assert slo.queue["bulk"] == {"max_backlog_age_s": 900, "min_jobs_per_min": 1}
    assert parse_slo(slo.to_dict()) == slo


def test_evaluate_pass_fail_and_no_samples(tmp_path):
    slo = load_slo(write(tmp_path, SLO))
    results = results_with(
        {
            "order.confirm": step(p95=1234.5),
            "stock.lookup": step(p50=350.0, p95=700.0),
            "invoice.post": step(count=0, p50=None, p95=None, p99=None),
        },
        {
            "critical": {"max_backlog_age_s": 0, "jobs_per_min": 0.0},
            "bulk": {"max_backlog_age_s": 1200.0, "jobs_per_min": 4.0, "jobs_done": 20},
        },
    )
    checks = by_name(evaluate(slo, results))
    assert list(checks)[:3] == [
        "order.confirm p95",
        "order.confirm error rate",
        "stock.lookup p50",
    ]
    confirm = checks["order.confirm p95"]
    assert confirm == {
        "name": "order.confirm p95",
        "threshold": 2000,
        "unit": "ms",
        "op": "<=",
        "value": 1234.5,
        "passed": True,
        "note": "100 samples",
    }
    assert checks["order.confirm error rate"]["passed"]
    assert not checks["stock.lookup p50"]["passed"]
    assert checks["stock.lookup p95"]["passed"]
    for name in ("invoice.post p95", "invoice.post p99"):
        assert checks[name]["value"] is None
        assert checks[name] | {"passed": False, "note": "no samples"} == checks[name]
    assert checks["overall error rate"]["passed"]
    assert checks["queue critical backlog age"]["passed"]  # present, 0 s
    assert checks["queue critical backlog age"]["value"] == 0
    assert not checks["queue bulk backlog age"]["passed"]
    throughput = checks["queue bulk throughput"]
    assert (throughput["op"], throughput["passed"]) == (">=", True)


def test_unmeasured_steps_and_classes_fail():
    slo = parse_slo(SLO)
    checks = by_name(evaluate(slo, {"steps": {}, "queue": {}}))
    assert not any(check["passed"] for check in checks.values())
    assert checks["overall error rate"]["note"] == "no samples"
    assert checks["order.confirm p95"]["note"] == "no samples"
    assert checks["queue critical backlog age"]["note"] == "no data"
    assert checks["queue bulk throughput"]["value"] is None


def test_errors_fail_error_rate_thresholds():
    slo = parse_slo(SLO)
    results = results_with({"order.confirm": step(errors=3)}, {}, error_rate=0.03)
    checks = by_name(evaluate(slo, results))
    assert checks["order.confirm error rate"]["value"] == 0.03
    assert checks["order.confirm error rate"]["note"] == "3 errors in 100 samples"
    assert not checks["order.confirm error rate"]["passed"]
    assert not checks["overall error rate"]["passed"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"steps": {"pick.validate": {"p95_ms": -1}}},
            "steps.pick.validate.p95_ms: must be a number > 0 (got -1)",
        ),
        (
            {"steps": {"pick.validat": {"p95_ms": 1}}},
            "steps.pick.validat: unknown key (known: order.create, order.confirm",
        ),
        ({"steps": {"order.create": {"p90_ms": 1}}}, "order.create.p90_ms: unknown"),
        ({"steps": {"order.create": {}}}, "steps.order.create: needs at least one"),
        ({"max_error_rate": 2}, "max_error_rate: must be a number 0..1 (got 2)"),
        ({"queue": {"urgent": {"max_backlog_age_s": 1}}}, "queue.urgent: unknown key"),
        ({"queue": {"bulk": {"min_jobs_per_min": "1"}}}, "queue.bulk.min_jobs_per_min"),
        ({"name": "x"}, "sets no threshold"),
        (
            {"steps": ["order.create"]},
            "steps: must be a mapping (got ['order.create'])",
        ),
        ({"thresholds": {}}, "thresholds: unknown key"),
    ],
)
def test_bad_slo_names_file_and_field(tmp_path, data, expected):
    path = write(tmp_path, data)
    with pytest.raises(InputError) as caught:
        load_slo(path)
    assert str(caught.value).startswith(f"slo {path}: ")
    assert expected in str(caught.value)


def test_bad_slo_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_slo(tmp_path / "absent.yaml")
    with pytest.raises(InputError, match="not valid YAML"):
        load_slo(write(tmp_path, "steps: {a: [\n"))


def test_percentile_interpolates_linearly():
    assert percentile([], 95) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert percentile([10, 20, 30, 40], 50) == 25
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_summaries_and_buckets():
    samples = [
        (1.0, "order.confirm", 100.0, True, None),
        (12.0, "order.confirm", 300.0, False, "lock_timeout"),
        (13.0, "order.confirm", 200.0, False, None),
        (25.0, "stock.lookup", 50.0, True, None),
    ]
    summary = summarize_step(samples[:3])
    assert summary["count"] == 3 and summary["errors"] == 2
    assert summary["p50_ms"] == 200 and summary["max_ms"] == 300
    assert summary["errors_by_kind"] == {"lock_timeout": 1, "unknown": 1}
    assert summarize_step([])["p95_ms"] is None
    steps = summarize_steps(samples, since_s=5)  # the warmup is not scored
    assert steps["order.confirm"]["count"] == 2
    assert overall_error_rate(steps) == pytest.approx(2 / 3)
    series = buckets(samples, 10)
    assert [row["count"] for row in series["order.confirm"]] == [1, 2, 0]
    assert [row["p95_ms"] for row in series["stock.lookup"]][:2] == [None, None]
    assert series["order.confirm"][1]["per_min"] == 12
