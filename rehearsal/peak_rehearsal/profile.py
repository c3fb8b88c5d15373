"""Load profiles: which users do what, how often, and which waves hit when.

A profile is a YAML file; ``profiles/distributor.yaml`` shows and explains
every field. :func:`load_profile` refuses anything it does not understand,
unknown keys included, with one :class:`~.errors.InputError` line that names
the file and the field path, so a typo cannot silently change the load.
"""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .fields import FieldReader, join, read_yaml_mapping, shown

FLOWS = ("order_entry", "warehouse", "customer_service", "finance")
JOB_KINDS = ("edi", "invoicing", "scheduler", "export")
DEFAULT_CHANNEL = "root.bulk"
MAX_TOTAL_USERS = 400
MAX_TOTAL_JOBS = 20000
SHIPPED_DIR = Path(__file__).resolve().parent / "profiles"

# Options each flow / job kind accepts besides users+rate / channel, with defaults.
FLOW_OPTIONS: dict[str, dict[str, Any]] = {
    "order_entry": {"lines": (2, 6)},
    "warehouse": {"backorder_share": 0.1},
    "customer_service": {},
    "finance": {},
}
KIND_OPTIONS: dict[str, dict[str, Any]] = {
    "edi": {"lines": (5, 20)},
    "invoicing": {"orders_per_job": 10},
    "scheduler": {},
    "export": {"rows": 2000},
}
_CHANNEL = re.compile(r"root(\.[A-Za-z0-9_-]+)*")


@dataclass(frozen=True)
class Flow:
    users: int
    rate_per_min: float  # requests of the flow per minute, across its users
    options: dict[str, Any]


@dataclass(frozen=True)
class JobKind:
    channel: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Wave:
    name: str
    at: float  # seconds from the start of the run, warmup included
    duration: float  # already clipped to the end of the run
    flows: dict[str, float]  # rate multipliers
    jobs: dict[str, int]  # jobs of each kind enqueued evenly over the wave

    @property
    def end(self) -> float:
        return self.at + self.duration

    def active(self, t: float) -> bool:
        return self.at <= t < self.end


@dataclass(frozen=True)
class Profile:
    name: str
    duration: float
    warmup: float
    seed: int
    flows: dict[str, Flow]
    background: dict[str, JobKind]
    waves: tuple[Wave, ...]

    def multiplier(self, flow: str, t: float) -> float:
        """Product of the multipliers of the waves active at t (1.0 outside)."""
        if flow not in self.flows:
            raise KeyError(f"flow {flow!r} is not in profile {self.name!r}")
        factor = 1.0
        for wave in self.waves:
            if wave.active(t):
                factor *= wave.flows.get(flow, 1.0)
        return factor

    def job_schedule(self) -> list[tuple[float, str]]:
        """Sorted (t, kind) enqueue instants, spread evenly, first at wave start."""
        instants = []
        for wave in self.waves:
            for kind, count in wave.jobs.items():
                spacing = wave.duration / count
                instants.extend((wave.at + i * spacing, kind) for i in range(count))
        return sorted(instants)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able normalized form; parse_profile accepts it back."""
        return {
            "name": self.name,
            "duration": self.duration,
            "warmup": self.warmup,
            "seed": self.seed,
            "flows": {
                name: {"users": f.users, "rate_per_min": f.rate_per_min}
                | _plain(f.options)
                for name, f in self.flows.items()
            },
            "background": {
                kind: {"channel": job.channel} | _plain(job.options)
                for kind, job in self.background.items()
            },
            "waves": [dataclasses.asdict(wave) for wave in self.waves],
        }


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


_OPTION_CHECKS = {
    "lines": lambda fields, v, path: fields.int_range(v, path, 1, 50),
    "backorder_share": lambda fields, v, path: fields.number(v, path, 0, 1),
    "orders_per_job": lambda fields, v, path: fields.integer(v, path, 1, 500),
    "rows": lambda fields, v, path: fields.integer(v, path, 1, 100000),
}


def _options(fields: FieldReader, spec: dict, path: str, defaults: dict) -> dict:
    return {
        key: _OPTION_CHECKS[key](fields, spec[key], join(path, key))
        if key in spec
        else default
        for key, default in defaults.items()
    }


def load_profile(path: str | Path) -> Profile:
    data, fields = read_yaml_mapping(path, "profile")
    return parse_profile(data, fields.source)


def parse_profile(data: Any, source: str = "profile") -> Profile:
    """Validate a profile already read (e.g. the `profile` of a results JSON)."""
    fields = FieldReader(source)
    top = fields.mapping(
        data,
        "",
        ("name", "duration", "warmup", "seed", "flows", "background", "waves"),
        required=("name", "duration", "flows"),
    )
    name = fields.text(top["name"], "name")
    duration = fields.number(top["duration"], "duration", 10, 3600)
    warmup = fields.number(top.get("warmup", 0), "warmup", 0, 600)
    if warmup >= duration:
        # Nothing would be scored: every request would fall in the warmup.
        raise fields.error("warmup", f"must be less than duration (got {warmup})")
    flows = _parse_flows(fields, top["flows"])
    background = _parse_background(fields, top.get("background"))
    return Profile(
        name=name,
        duration=duration,
        warmup=warmup,
        seed=fields.integer(top.get("seed", 42), "seed"),
        flows=flows,
        background=background,
        waves=_parse_waves(fields, top.get("waves"), duration, flows, background),
    )


def _parse_flows(fields: FieldReader, value: Any) -> dict[str, Flow]:
    specs = fields.mapping(value, "flows", FLOWS)
    if not specs:
        raise fields.error("flows", f"needs at least one of {', '.join(FLOWS)}")
    flows = {}
    for name in FLOWS:  # canonical order, whatever the file's order
        if name not in specs:
            continue
        path = f"flows.{name}"
        known = ("users", "rate_per_min", *FLOW_OPTIONS[name])
        spec = fields.mapping(specs[name], path, known, ("users", "rate_per_min"))
        flows[name] = Flow(
            users=fields.integer(spec["users"], f"{path}.users", 1, 200),
            rate_per_min=fields.number(
                spec["rate_per_min"], f"{path}.rate_per_min", 0, 6000, low_open=True
            ),
            options=_options(fields, spec, path, FLOW_OPTIONS[name]),
        )
    total = sum(f.users for f in flows.values())
    if total > MAX_TOTAL_USERS:
        raise fields.error(
            "flows", f"users add up to {total}, more than {MAX_TOTAL_USERS}"
        )
    return flows


def _parse_background(fields: FieldReader, value: Any) -> dict[str, JobKind]:
    specs = fields.mapping(value, "background", JOB_KINDS)
    background = {}
    for kind in JOB_KINDS:
        if kind not in specs:
            continue
        path = f"background.{kind}"
        spec = fields.mapping(specs[kind], path, ("channel", *KIND_OPTIONS[kind]))
        channel = spec.get("channel", DEFAULT_CHANNEL)
        if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
            raise fields.error(
                f"{path}.channel",
                f"must be a queue channel like root.bulk (got {shown(channel)})",
            )
        background[kind] = JobKind(
            channel=channel, options=_options(fields, spec, path, KIND_OPTIONS[kind])
        )
    return background


def _parse_waves(fields, value, duration, flows, background) -> tuple[Wave, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fields.error("waves", f"must be a list (got {shown(value)})")
    waves = []
    for index, item in enumerate(value):
        path = f"waves[{index}]"
        known = ("name", "at", "duration", "flows", "jobs")
        spec = fields.mapping(item, path, known, ("name", "at", "duration"))
        at = fields.number(spec["at"], f"{path}.at", 0, duration, high_open=True)
        length = fields.number(spec["duration"], f"{path}.duration", 0, low_open=True)
        multipliers = fields.mapping(spec.get("flows"), f"{path}.flows", FLOWS)
        jobs = fields.mapping(spec.get("jobs"), f"{path}.jobs", JOB_KINDS)
        for name, factor in multipliers.items():
            _require_defined(fields, f"{path}.flows.{name}", "flows", flows)
            fields.number(factor, f"{path}.flows.{name}", 0, 50, low_open=True)
        for kind, count in jobs.items():
            _require_defined(fields, f"{path}.jobs.{kind}", "background", background)
            fields.integer(count, f"{path}.jobs.{kind}", 1, 10000)
        waves.append(
            Wave(
                name=fields.text(spec["name"], f"{path}.name"),
                at=at,
                duration=min(length, duration - at),  # clipped to the end of the run
                flows=dict(multipliers),
                jobs=dict(jobs),
            )
        )
    total = sum(sum(w.jobs.values()) for w in waves)
    if total > MAX_TOTAL_JOBS:
        raise fields.error(
            "waves", f"jobs add up to {total}, more than {MAX_TOTAL_JOBS}"
        )
    return tuple(waves)


def _require_defined(fields, path: str, section: str, defined: dict) -> None:
    """A wave may only touch the flows and job kinds the profile defines."""
    if path.rsplit(".", 1)[1] not in defined:
        names = ", ".join(defined) or "none"
        raise fields.error(path, f"not defined in {section} (defined: {names})")


def shipped(name: str) -> Path:
    """Path of a file shipped in profiles/, e.g. shipped("smoke.yaml")."""
    path = SHIPPED_DIR / name
    if Path(name).name != name or not path.is_file():
        available = ", ".join(sorted(p.name for p in SHIPPED_DIR.glob("*.yaml")))
        raise InputError(f"no shipped file {name!r} (shipped: {available})")
    return path
