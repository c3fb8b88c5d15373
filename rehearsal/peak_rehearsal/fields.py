"""Reading a YAML input field by field: every error is one line naming the
file and the field path (``profile p.yaml: flows.warehouse.users: ...``).
Shared by the profile and SLO readers."""

import math
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError


class FieldReader:
    """Checks the values of one input; each error names the source and field."""

    def __init__(self, source: str):
        self.source = source

    def error(self, path: str, problem: str) -> InputError:
        where = f"{self.source}: {path}:" if path else f"{self.source}:"
        return InputError(f"{where} {problem}")

    def mapping(self, value, path, known, required=()) -> dict:
        if value is None and path:
            value = {}  # `key:` with nothing after it is an empty mapping in YAML
        if not isinstance(value, dict):
            raise self.error(path, f"must be a mapping (got {shown(value)})")
        for key in value:
            if key not in known:
                raise self.error(
                    join(path, key), f"unknown key (known: {', '.join(known)})"
                )
        for key in required:
            if key not in value:
                raise self.error(join(path, key), "is required")
        return value

    def number(
        self, value, path, low, high=math.inf, *, low_open=False, high_open=False
    ) -> float:
        valid = (
            isinstance(value, int | float)
            and not isinstance(value, bool)  # YAML's yes/no are bools, not 1/0
            and math.isfinite(value)
            and (value > low if low_open else value >= low)
            and (value < high if high_open else value <= high)
        )
        if not valid:
            if not (low_open or high_open) and math.isfinite(high):
                bounds = f"{low:g}..{high:g}"
            else:
                bounds = f"> {low:g}" if low_open else f">= {low:g}"
                if math.isfinite(high):
                    bounds += f" and {'<' if high_open else '<='} {high:g}"
            raise self.error(path, f"must be a number {bounds} (got {shown(value)})")
        return value

    def integer(self, value, path, low=None, high=None) -> int:
        valid = isinstance(value, int) and not isinstance(value, bool)
        if valid and low is not None:
            valid = low <= value <= high
        if not valid:
            bounds = f" {low}..{high}" if low is not None else ""
            raise self.error(path, f"must be an integer{bounds} (got {shown(value)})")
        return value

    def int_range(self, value, path, low, high) -> tuple[int, int]:
        valid = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and low <= value[0] <= value[1] <= high
        )
        if not valid:
            raise self.error(
                path,
                f"must be [min, max], integers {low}..{high} with min <= max "
                f"(got {shown(value)})",
            )
        return (value[0], value[1])

    def text(self, value, path) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(path, f"must be a non-empty string (got {shown(value)})")
        return value.strip()


def shown(value: Any) -> str:
    """The offending value, short enough to keep the error on one line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def read_yaml_mapping(path: str | Path, what: str) -> tuple[dict, FieldReader]:
    """The top-level mapping of a YAML file and a reader labelled `what path`."""
    fields = FieldReader(f"{what} {path}")
    try:
        raw = Path(path).read_bytes()  # bytes: YAML's reader reports bad encodings
    except OSError as exc:
        raise fields.error("", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise fields.error("", f"not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise fields.error("", f"must be a YAML mapping (got {got})")
    return data, fields
