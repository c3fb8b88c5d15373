"""Load profiles of peak-rehearsal: parsing, wave maths, one-line input errors."""

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "rehearsal"))

from peak_rehearsal.errors import InputError, RehearsalError  # noqa: E402
from peak_rehearsal.profile import (  # noqa: E402
    FLOWS,
    JOB_KINDS,
    load_profile,
    parse_profile,
    shipped,
)
from peak_rehearsal.slo import load_slo  # noqa: E402

VALID = {
    "name": "distributor",
    "duration": 300,
    "warmup": 20,
    "flows": {
        "order_entry": {"users": 4, "rate_per_min": 30, "lines": [3, 8]},
        "warehouse": {"users": 4, "rate_per_min": 40, "backorder_share": 0.2},
        "finance": {"users": 1, "rate_per_min": 6},
    },
    "background": {"edi": {"channel": "root.bulk.edi"}, "export": {}},
    "waves": [
        {"name": "wh", "at": 60, "duration": 90, "flows": {"warehouse": 2.0}},
        {"name": "edi", "at": 100, "duration": 20, "jobs": {"edi": 4, "export": 1}},
        {"name": "late", "at": 120, "duration": 40, "flows": {"warehouse": 1.5}},
    ],
}


def write(tmp_path: Path, data, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def with_change(path: str, value) -> dict:
    """A copy of VALID with one dotted path set (or removed when value is ...)."""
    data = yaml.safe_load(yaml.safe_dump(VALID))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


def test_valid_profile_parses_with_defaults(tmp_path):
    profile = load_profile(write(tmp_path, VALID))
    assert (profile.name, profile.duration, profile.warmup) == ("distributor", 300, 20)
    assert profile.seed == 42
    assert list(profile.flows) == ["order_entry", "warehouse", "finance"]
    assert profile.flows["order_entry"].options == {"lines": (3, 8)}
    assert profile.flows["warehouse"].options == {"backorder_share": 0.2}
    assert profile.background["edi"].channel == "root.bulk.edi"
    assert profile.background["edi"].options == {"lines": (5, 20)}
    assert profile.background["export"].channel == "root.bulk"
    assert profile.background["export"].options == {"rows": 2000}
    assert [w.name for w in profile.waves] == ["wh", "edi", "late"]


def test_multiplier_is_the_product_of_active_waves(tmp_path):
    profile = load_profile(write(tmp_path, VALID))
    assert profile.multiplier("warehouse", 0) == 1.0
    assert profile.multiplier("warehouse", 60) == 2.0  # a wave starts at `at`
    assert profile.multiplier("warehouse", 130) == 3.0  # two waves overlap
    assert profile.multiplier("warehouse", 150) == 1.5  # ... and ends before at+d
    assert profile.multiplier("order_entry", 130) == 1.0
    with pytest.raises(KeyError):
        profile.multiplier("customer_service", 0)


def test_job_schedule_spreads_jobs_evenly_from_wave_start(tmp_path):
    profile = load_profile(write(tmp_path, VALID))
    assert profile.job_schedule() == [
        (100.0, "edi"),
        (100.0, "export"),
        (105.0, "edi"),
        (110.0, "edi"),
        (115.0, "edi"),
    ]


def test_wave_past_the_end_is_clipped(tmp_path):
    data = with_change("waves.1.duration", 1000)
    profile = load_profile(write(tmp_path, data))
    assert profile.waves[1].duration == 200  # 300 - 100
    assert profile.job_schedule()[-1] == (250.0, "edi")


def test_to_dict_round_trips(tmp_path):
    profile = load_profile(write(tmp_path, VALID))
    data = profile.to_dict()
    assert data["flows"]["order_entry"]["lines"] == [3, 8]
    assert parse_profile(yaml.safe_load(yaml.safe_dump(data))) == profile


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("name", ..., "name: is required"),
        ("name", "  ", "name: must be a non-empty string"),
        ("duration", 5, "duration: must be a number 10..3600 (got 5)"),
        ("duration", True, "duration: must be a number 10..3600 (got True)"),
        ("warmup", 300, "warmup: must be less than duration"),
        ("seed", 1.5, "seed: must be an integer (got 1.5)"),
        ("flows", {}, "flows: needs at least one of order_entry"),
        ("flows.warehouse.rate_per_min", "abc", "flows.warehouse.rate_per_min: must"),
        ("flows.warehouse.rate_per_min", 0, "rate_per_min: must be a number > 0"),
        ("flows.warehouse.users", 201, "flows.warehouse.users: must be an integer"),
        ("flows.warehouse.users", ..., "flows.warehouse.users: is required"),
        ("flows.order_entry.lines", [9, 3], "flows.order_entry.lines: must be [min"),
        ("flows.order_entry.lines", [0, 3], "flows.order_entry.lines: must be [min"),
        ("flows.warehouse.backorder_share", 1.5, "backorder_share: must be a number"),
        ("flows.warehose", {"users": 1}, "flows.warehose: unknown key (known: "),
        ("flows.finance.lines", [1, 2], "flows.finance.lines: unknown key"),
        ("background.edi.channel", "bulk", "background.edi.channel: must be a queue"),
        ("background.export.rows", 0, "background.export.rows: must be an integer"),
        ("waves", {"name": "x"}, "waves: must be a list"),
        ("waves.0.at", 300, "waves[0].at: must be a number >= 0 and < 300"),
        ("waves.0.duration", 0, "waves[0].duration: must be a number > 0"),
        ("waves.0.name", ..., "waves[0].name: is required"),
        ("waves.0.flows", {"warehouse": 51}, "waves[0].flows.warehouse: must be"),
        ("waves.0.flows", {"customer_service": 2}, "not defined in flows"),
        ("waves.1.jobs", {"edi": 0}, "waves[1].jobs.edi: must be an integer 1..10000"),
        ("waves.1.jobs", {"scheduler": 1}, "waves[1].jobs.scheduler: not defined in"),
        ("waves.1.jobs", {"edi": 10000, "export": 10001}, "waves[1].jobs.export"),
        ("waves.1.color", "red", "waves[1].color: unknown key"),
        ("extra", 1, "extra: unknown key (known: name, duration"),
    ],
)
def test_bad_profile_names_file_and_field(tmp_path, path, value, expected):
    file = write(tmp_path, with_change(path, value), "bad.yaml")
    with pytest.raises(InputError) as caught:
        load_profile(file)
    message = str(caught.value)
    assert message.startswith(f"profile {file}: ")
    assert expected in message
    assert "\n" not in message


def test_totals_are_bounded(tmp_path):
    data = with_change("flows.customer_service", {"users": 200, "rate_per_min": 1})
    data["flows"]["warehouse"]["users"] = 200
    with pytest.raises(InputError, match="flows: users add up to 405"):
        load_profile(write(tmp_path, data))
    data = with_change("waves.1.jobs", {"edi": 10000, "export": 10000})
    data["waves"][0]["jobs"] = {"edi": 1}
    with pytest.raises(InputError, match="waves: jobs add up to 20001"):
        load_profile(write(tmp_path, data))


def test_missing_file_bad_yaml_and_non_mapping(tmp_path):
    cases = {
        tmp_path / "absent.yaml": "cannot read: No such file",
        write(tmp_path, "name: [unclosed\n", "broken.yaml"): "not valid YAML at line",
        write(tmp_path, "- a\n- b\n", "list.yaml"): "must be a YAML mapping (got list)",
        write(tmp_path, "", "empty.yaml"): "(got an empty file)",
    }
    for path, expected in cases.items():
        with pytest.raises(InputError) as caught:
            load_profile(path)
        assert str(caught.value).startswith(f"profile {path}: ")
        assert expected in str(caught.value)
        assert "\n" not in str(caught.value)
    assert issubclass(InputError, RehearsalError)


def test_shipped_files_load():
    smoke = load_profile(shipped("smoke.yaml"))
    assert set(smoke.flows) == set(FLOWS) and set(smoke.background) == set(JOB_KINDS)
    assert len(smoke.job_schedule()) == 11
    distributor = load_profile(shipped("distributor.yaml"))
    assert distributor.duration == 300 and distributor.warmup == 20
    assert distributor.multiplier("warehouse", 100) == 2.0
    assert distributor.multiplier("finance", 250) == 3.0
    assert len(distributor.job_schedule()) == 70
    # make bench-real's: the same people, a season day's background.
    season = load_profile(shipped("black-friday.yaml"))
    assert season.flows == distributor.flows
    assert len(season.job_schedule()) == 258
    assert load_slo(shipped("slo.yaml")).steps["order.confirm"] == {"p95_ms": 2000}
    with pytest.raises(InputError, match="shipped: black-friday.yaml, distributor"):
        shipped("nope.yaml")
