"""The peak-rehearsal command refuses bad input with one line and exit 2,
before it sends a single request (no Odoo needed: nothing listens on the
URL these tests give)."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMAND = (
    Path(os.environ.get("PEAK_REHEARSAL_VENV", ROOT / ".venv-rehearsal"))
    / "bin"
    / "peak-rehearsal"
)
SHIPPED = ROOT / "rehearsal" / "peak_rehearsal" / "profiles"
# Port 9 (discard) on loopback: a request would fail, so exit 2 proves none
# was needed to refuse the input.
NOWHERE = ["--url", "http://127.0.0.1:9", "--db", "staging"]


def peak_rehearsal(*args, password="secret"):
    env = dict(os.environ)
    env.pop("PEAK_REHEARSAL_PASSWORD", None)
    if password:
        env["PEAK_REHEARSAL_PASSWORD"] = password
    return subprocess.run(
        [str(COMMAND), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("profile_text", "field"),
    [
        (
            "name: x\nduration: 60\n"
            "flows: {warehouse: {users: 1, rate_per_min: abc}}\n",
            "flows.warehouse.rate_per_min",
        ),
        (
            "name: x\nduration: 5\nflows: {warehouse: {users: 1, rate_per_min: 1}}\n",
            "duration",
        ),
        (
            "name: x\nduration: 60\nflows: {warehose: {users: 1, rate_per_min: 1}}\n",
            "flows.warehose",
        ),
        (
            "name: x\nduration: 60\nflows: {finance: {users: 1, rate_per_min: 1}}\n"
            "waves: [{name: w, at: 10, duration: 5, jobs: {edi: 3}}]\n",
            "waves[0].jobs.edi",
        ),
    ],
)
def test_a_bad_profile_names_its_field_and_exits_2(tmp_path, profile_text, field):
    profile = tmp_path / "bad.yaml"
    profile.write_text(profile_text)
    done = peak_rehearsal(
        "run", *NOWHERE, "--profile", str(profile), "--output", str(tmp_path / "out")
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], done.stderr
    assert lines[0].startswith("peak-rehearsal: profile ")
    assert not (tmp_path / "out").exists()


def test_a_bad_slo_file_names_its_field_and_exits_2(tmp_path):
    slo = tmp_path / "slo.yaml"
    slo.write_text("steps:\n  pick.validate: {p95_ms: -1}\n")
    done = peak_rehearsal("run", *NOWHERE, "--slo", str(slo))
    assert done.returncode == 2
    assert "steps.pick.validate.p95_ms" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_profile_is_one_line(tmp_path):
    done = peak_rehearsal("run", *NOWHERE, "--profile", str(tmp_path / "none.yaml"))
    assert done.returncode == 2
    assert "none.yaml" in done.stderr and "Traceback" not in done.stderr


def test_no_password_in_the_environment_exits_2_before_any_request():
    done = peak_rehearsal("seed", *NOWHERE, password=None)
    assert done.returncode == 2
    assert "PEAK_REHEARSAL_PASSWORD" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["seed", "--url", "ftp://odoo", "--db", "x"],
        ["seed", *NOWHERE, "--scale", "0"],
        ["seed", *NOWHERE, "--scale", "lots"],
        ["run", "--url", "http://127.0.0.1:9"],  # no --db
    ],
)
def test_bad_flags_exit_2(args):
    assert peak_rehearsal(*args).returncode == 2


def test_an_unreachable_odoo_is_a_clear_error_not_a_traceback():
    done = peak_rehearsal("seed", *NOWHERE)
    assert done.returncode == 1
    assert "cannot reach Odoo at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
