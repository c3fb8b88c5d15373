"""Service-level thresholds: load them, and check a run's results against them.

``profiles/slo.yaml`` shows the format. Every threshold becomes one check of
:func:`evaluate`; a check whose value was never measured fails, because a
threshold nobody exercised is not met.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fields import FieldReader, read_yaml_mapping

STEPS = (
    "order.create",
    "order.confirm",
    "pick.validate",
    "stock.lookup",
    "order.lookup",
    "invoice.create",
    "invoice.post",
)
QUEUE_CLASSES = ("critical", "operational", "background", "bulk")
STEP_LIMITS = ("p50_ms", "p95_ms", "p99_ms", "max_error_rate")
QUEUE_LIMITS = ("max_backlog_age_s", "min_jobs_per_min")


@dataclass(frozen=True)
class Slo:
    name: str | None
    steps: dict[str, dict[str, float]]  # step -> {limit key: threshold}
    max_error_rate: float | None  # over every scored request
    queue: dict[str, dict[str, float]]  # priority class -> {limit key: threshold}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": {step: dict(limits) for step, limits in self.steps.items()},
            "max_error_rate": self.max_error_rate,
            "queue": {cls: dict(limits) for cls, limits in self.queue.items()},
        }


def load_slo(path: str | Path) -> Slo:
    data, fields = read_yaml_mapping(path, "slo")
    return parse_slo(data, fields.source)


def parse_slo(data: Any, source: str = "slo") -> Slo:
    """Validate SLO thresholds already read (e.g. the `slo` of a results JSON)."""
    fields = FieldReader(source)
    top = fields.mapping(data, "", ("name", "steps", "max_error_rate", "queue"))
    name = top.get("name")
    if name is not None:
        name = fields.text(name, "name")
    max_error_rate = top.get("max_error_rate")
    if max_error_rate is not None:
        max_error_rate = fields.number(max_error_rate, "max_error_rate", 0, 1)
    slo = Slo(
        name=name,
        steps=_parse_limits(fields, top.get("steps"), "steps", STEPS, STEP_LIMITS),
        max_error_rate=max_error_rate,
        queue=_parse_limits(
            fields, top.get("queue"), "queue", QUEUE_CLASSES, QUEUE_LIMITS
        ),
    )
    if not slo.steps and not slo.queue and max_error_rate is None:
        raise fields.error("", "sets no threshold (steps, max_error_rate or queue)")
    return slo


def _parse_limits(fields, value, section, names, limit_keys) -> dict:
    specs = fields.mapping(value, section, names)
    parsed = {}
    for name in names:  # canonical order, whatever the file's order
        if name not in specs:
            continue
        path = f"{section}.{name}"
        spec = fields.mapping(specs[name], path, limit_keys)
        if not spec:
            raise fields.error(path, f"needs at least one of {', '.join(limit_keys)}")
        parsed[name] = {
            key: _limit(fields, key, spec[key], f"{path}.{key}")
            for key in limit_keys
            if key in spec
        }
    return parsed


def _limit(fields: FieldReader, key: str, value: Any, path: str) -> float:
    if key == "max_error_rate":
        return fields.number(value, path, 0, 1)
    return fields.number(value, path, 0, low_open=True)


def _check(name, threshold, unit, op, value, note) -> dict[str, Any]:
    if value is None:
        passed = False
    else:
        # NaN compares false either way, so an undefined value fails too.
        passed = value <= threshold if op == "<=" else value >= threshold
    return {
        "name": name,
        "threshold": threshold,
        "unit": unit,
        "op": op,
        "value": value,
        "passed": bool(passed),
        "note": note,
    }


def evaluate(slo: Slo, results: dict[str, Any]) -> list[dict[str, Any]]:
    """One check per threshold: steps, overall error rate, then queue classes."""
    steps = results.get("steps") or {}
    checks = []
    for step, limits in slo.steps.items():
        checks.extend(_step_checks(step, limits, steps.get(step) or {}))
    if slo.max_error_rate is not None:
        total = sum((s or {}).get("count") or 0 for s in steps.values())
        errors = sum((s or {}).get("errors") or 0 for s in steps.values())
        value = results.get("error_rate") if total else None
        note = f"{errors} errors in {total} samples" if total else "no samples"
        checks.append(
            _check("overall error rate", slo.max_error_rate, "ratio", "<=", value, note)
        )
    queue = results.get("queue") or {}
    for cls, limits in slo.queue.items():
        checks.extend(_queue_checks(cls, limits, queue.get(cls) or {}))
    return checks


def _step_checks(step: str, limits: dict, measured: dict) -> list[dict[str, Any]]:
    count = measured.get("count") or 0
    errors = measured.get("errors") or 0
    checks = []
    for key, threshold in limits.items():
        if key == "max_error_rate":
            name, unit = f"{step} error rate", "ratio"
            value = measured.get("error_rate")
            if value is None and count:
                value = errors / count
            note = f"{errors} errors in {count} samples"
        else:
            name, unit = f"{step} {key.removesuffix('_ms')}", "ms"
            value, note = measured.get(key), f"{count} samples"
        if not count:
            value, note = None, "no samples"
        checks.append(_check(name, threshold, unit, "<=", value, note))
    return checks


def _queue_checks(cls: str, limits: dict, measured: dict) -> list[dict[str, Any]]:
    # A class missing from the results was never observed: its checks fail.
    checks = []
    if "max_backlog_age_s" in limits:
        value = measured.get("max_backlog_age_s")
        note = "oldest pending job" if value is not None else "no data"
        checks.append(
            _check(
                f"queue {cls} backlog age",
                limits["max_backlog_age_s"],
                "s",
                "<=",
                value,
                note,
            )
        )
    if "min_jobs_per_min" in limits:
        value = measured.get("jobs_per_min")
        done = measured.get("jobs_done") or 0
        note = f"{done} jobs done" if value is not None else "no data"
        checks.append(
            _check(
                f"queue {cls} throughput",
                limits["min_jobs_per_min"],
                "jobs/min",
                ">=",
                value,
                note,
            )
        )
    return checks
