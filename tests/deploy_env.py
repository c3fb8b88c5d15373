"""What the code reads, for the deployment tests (compose, Kubernetes).

The lists are computed from the code itself, never written down here, so a
variable renamed on either side (code or deployment files) fails a test:

* ``docker/entrypoint.sh``: every ``PEAK_*`` its (non-comment) lines use, and
  the ones it refuses to start without (``require``);
* ``peak-governor``: every ``PEAK_GOVERNOR_*`` its ``--help`` names;
* the addons: ``PEAK_*`` literals in their Python code, plus ``<prefix><FIELD>``
  for each field of the settings dataclass in ``lib/config.py`` (or in the
  shared ``peak_settings`` module it imports its settings from) when that
  module reads its settings by prefix (``ENV_PREFIX = "PEAK_S3_"``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
VAR_RE = re.compile(r"\bPEAK_[A-Z0-9_]*[A-Z0-9]\b")

# Read by third-party code, not ours: boto3 (the S3 credentials chain) and
# prometheus_client (multiprocess mode).
THIRD_PARTY = {
    "AWS_ACCESS_KEY_ID": "boto3",
    "AWS_SECRET_ACCESS_KEY": "boto3",
    "AWS_SESSION_TOKEN": "boto3",
    "AWS_REGION": "boto3",
    "AWS_ROLE_ARN": "boto3 (web identity)",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "boto3 (web identity)",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus_client",
}


def _code_lines(path: Path) -> str:
    return "\n".join(
        line
        for line in path.read_text().splitlines()
        if not line.lstrip().startswith("#")
    )


@cache
def entrypoint_variables() -> frozenset[str]:
    return frozenset(VAR_RE.findall(_code_lines(ENTRYPOINT)))


@cache
def entrypoint_required() -> frozenset[str]:
    """What every command of the entrypoint refuses to run without: the
    `require` calls of write_config (`init` and `upgrade` add their module
    lists on top)."""
    body = _code_lines(ENTRYPOINT).split("write_config() {", 1)[1].split("\n}", 1)[0]
    names = set()
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("require "):
            names.update(VAR_RE.findall(line))
    return frozenset(names)


@cache
def governor_variables() -> frozenset[str]:
    exe = Path(sys.executable).with_name("peak-governor")
    out = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return frozenset(
        name for name in VAR_RE.findall(out) if name.startswith("PEAK_GOVERNOR_")
    )


def _dataclass_fields(tree: ast.Module) -> set[str]:
    fields = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            "dataclass" in ast.unparse(dec) for dec in node.decorator_list
        ):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(
                    item.target, ast.Name
                ):
                    fields.add(item.target.id)
    return fields


def _env_prefixes(tree: ast.Module) -> set[str]:
    prefixes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"PEAK_[A-Z0-9]+_", node.value):
                prefixes.add(node.value)
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and re.fullmatch(
                r"PEAK_[A-Z0-9]+_", str(head.value)
            ):
                prefixes.add(head.value)
    return prefixes


@cache
def addon_variables() -> dict[str, str]:
    """Variable -> addon that reads it."""
    found = {}
    for manifest in sorted(ROOT.glob("addons/*/__manifest__.py")):
        addon = manifest.parent
        for path in addon.rglob("*.py"):
            if "tests" in path.relative_to(addon).parts:
                continue
            for name in VAR_RE.findall(path.read_text()):
                found.setdefault(name, addon.name)
        config = addon / "lib" / "config.py"
        for path in _settings_modules(config):
            tree = ast.parse(path.read_text())
            for name in VAR_RE.findall(path.read_text()):
                found.setdefault(name, addon.name)
            for prefix in _env_prefixes(tree):
                for field in _dataclass_fields(tree):
                    found.setdefault(prefix + field.upper(), addon.name)
    return found


def _settings_modules(config: Path) -> list[Path]:
    """An addon's ``lib/config.py`` and the shared ``peak_settings`` modules
    it takes its settings from (``from peak_settings.s3 import ...``)."""
    if not config.exists():
        return []
    paths = [config]
    for node in ast.walk(ast.parse(config.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "peak_settings."
        ):
            module = node.module.split(".", 1)[1].replace(".", "/")
            paths.append(ROOT / "settings" / "peak_settings" / f"{module}.py")
    return paths


@cache
def initdb_variables() -> frozenset[str]:
    """Read by the PostgreSQL image's first-start scripts (compose only)."""
    names = set()
    for path in (ROOT / "docker" / "postgres" / "initdb").glob("*.sh"):
        names.update(VAR_RE.findall(_code_lines(path)))
    return frozenset(names)


def known_variables() -> dict[str, str]:
    """Every environment variable some code of ours (or a library) reads."""
    known = dict(THIRD_PARTY)
    known.update({name: "docker/postgres/initdb" for name in initdb_variables()})
    known.update(addon_variables())
    known.update({name: "peak-governor" for name in governor_variables()})
    known.update({name: "docker/entrypoint.sh" for name in entrypoint_variables()})
    return known
