"""Print the runtime subset of requirements.txt, exact pins kept.

requirements.txt pins everything the project uses, test and lint tooling
included (pytest, ruff, hadolint, SeaweedFS and Traefik binaries...). The
Odoo image ships only what running code declares it imports:

- Odoo's own requirements.txt (its environment markers evaluated for this
  interpreter; our pin wins over Odoo's),
- ``external_dependencies["python"]`` of every addon manifest found under
  the given addons directories (ours and OCA's),
- the ``dependencies`` of the given pyproject.toml files (settings, governor).

A name that requirements.txt does not list is an error: the image installs
exactly the versions `make test` ran. Local packages (peak-settings,
peak-governor) are installed from source and skipped.

    runtime_requirements.py REQUIREMENTS ODOO_REQUIREMENTS \\
        --addons DIR... --pyproject FILE...
"""

import argparse
import ast
import re
import sys
import tomllib
from pathlib import Path

try:  # pip vendors packaging; the build stage has pip, maybe not packaging
    from packaging.requirements import Requirement
except ImportError:  # pragma: no cover
    from pip._vendor.packaging.requirements import Requirement

LOCAL = {"peak-settings", "peak-governor", "odoo"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path):
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            yield line


def odoo_names(path: Path) -> set[str]:
    names = set()
    for line in requirement_lines(path):
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            names.add(canonical(req.name))
    return names


def manifest_names(addons_dirs: list[Path]) -> set[str]:
    names = set()
    for folder in addons_dirs:
        for manifest in sorted(folder.glob("*/__manifest__.py")):
            data = ast.literal_eval(manifest.read_text())
            for module in data.get("external_dependencies", {}).get("python", []):
                names.add(canonical(module))
    return names


def pyproject_names(files: list[Path]) -> set[str]:
    names = set()
    for path in files:
        project = tomllib.loads(path.read_text()).get("project", {})
        for dep in project.get("dependencies", []):
            names.add(canonical(Requirement(dep).name))
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("requirements", type=Path)
    parser.add_argument("odoo_requirements", type=Path)
    parser.add_argument("--addons", type=Path, nargs="*", default=[])
    parser.add_argument("--pyproject", type=Path, nargs="*", default=[])
    args = parser.parse_args(argv)

    pins = {}
    for line in requirement_lines(args.requirements):
        pins[canonical(Requirement(line).name)] = line
    wanted = (
        odoo_names(args.odoo_requirements)
        | manifest_names(args.addons)
        | pyproject_names(args.pyproject)
    ) - LOCAL
    unpinned = sorted(wanted - pins.keys())
    if unpinned:
        print(
            f"runtime_requirements: not in {args.requirements}: {', '.join(unpinned)}",
            file=sys.stderr,
        )
        return 1
    for name in sorted(wanted):
        print(pins[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
