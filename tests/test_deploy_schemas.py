"""Custom resources are validated against the operators' vendored CRDs.

`make lint` runs scripts/validate_custom_resources.py on every rendered
kustomization; these tests prove that the vendored schemas are the recorded
ones and that a typo in a Traefik, KEDA, CloudNativePG, prometheus-operator
or Argo CD resource is caught.
"""

import copy
import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "k8s" / "schemas"
SCRIPT = ROOT / "scripts" / "validate_custom_resources.py"
KUSTOMIZATIONS = [
    "k8s/base",
    "k8s/overlays/dedicated",
    "k8s/overlays/local",
    "k8s/overlays/shared",
    "k8s/recovery",
    "k8s/argocd",
]


def _load_validator():
    spec = importlib.util.spec_from_file_location("validate_custom_resources", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validator = _load_validator()


@pytest.fixture(scope="module")
def schemas():
    return validator.load_crd_schemas()


def render(path: str) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return [doc for doc in yaml.load_all(out, Loader=validator.Loader) if doc]


@pytest.fixture(scope="module")
def rendered():
    return {path: render(path) for path in KUSTOMIZATIONS}


def find(docs, kind, name=None):
    return next(
        d
        for d in docs
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    )


def test_vendored_crds_are_the_recorded_ones():
    recorded = {}
    for line in (SCHEMAS / "VERSIONS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            fields = line.split()
            recorded[fields[0]] = fields[-1]
    files = {path.name: path for path in (SCHEMAS / "crds").glob("*.yaml")}
    assert set(files) == set(
        recorded
    ), "k8s/schemas/VERSIONS and k8s/schemas/crds disagree"
    for name, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[name], name


def test_every_operator_kind_in_use_has_a_schema(schemas, rendered):
    groups = validator.crd_groups(schemas)
    assert groups == {
        "argoproj.io",
        "traefik.io",
        "keda.sh",
        "postgresql.cnpg.io",
        "monitoring.coreos.com",
    }
    kinds = {
        (doc["apiVersion"], doc["kind"])
        for docs in rendered.values()
        for doc in docs
        if doc["apiVersion"].split("/")[0] in groups
    }
    assert kinds <= set(schemas)
    assert {kind for _version, kind in kinds} >= {
        "IngressRoute",
        "Middleware",
        "ScaledObject",
        "TriggerAuthentication",
        "Cluster",
        "ScheduledBackup",
        "ServiceMonitor",
        "AppProject",
        "Application",
        "ApplicationSet",
    }


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_rendered_custom_resources_are_valid(schemas, rendered, path):
    checked, errors = validator.validate_documents(rendered[path], schemas)
    assert errors == []
    assert checked >= 1


def _broken(docs, kind, name, mutate):
    docs = copy.deepcopy(docs)
    mutate(find(docs, kind, name))
    return docs


MISTAKES = [
    # (kind, name, mutation, expected message fragment)
    (
        "Middleware",
        "odoo-ratelimit",
        lambda d: d["spec"]["rateLimit"].update(averge=100),
        "spec.rateLimit: Additional properties are not allowed "
        "('averge' was unexpected)",
    ),
    (
        "IngressRoute",
        "odoo-peak",
        lambda d: d["spec"]["routes"][0].update(kind="Rules"),
        "spec.routes.0.kind: 'Rules' is not one of",
    ),
    (
        "ScaledObject",
        "odoo-queue",
        lambda d: d["spec"].update(maxReplicaCount="one"),
        "spec.maxReplicaCount: 'one' is not of type 'integer'",
    ),
    (
        "Cluster",
        "odoo-peak-db",
        lambda d: d["spec"]["backup"]["barmanObjectStore"]["wal"].update(
            compression="zip"
        ),
        "spec.backup.barmanObjectStore.wal.compression: 'zip' is not one of",
    ),
    (
        "Cluster",
        "odoo-peak-db",
        lambda d: d["spec"]["backup"]["barmanObjectStore"].update(
            destinationpath="s3://x/"
        ),
        "('destinationpath' was unexpected)",
    ),
    (
        "ScheduledBackup",
        "odoo-peak-db-nightly",
        lambda d: d["spec"].pop("cluster"),
        "'cluster' is a required property",
    ),
    (
        "ServiceMonitor",
        "odoo-web",
        lambda d: d["spec"]["endpoints"][0].update(scrapeTimout="10s"),
        "('scrapeTimout' was unexpected)",
    ),
    (
        "ScaledObject",
        "odoo-queue",
        lambda d: d.update(kind="ScaledObjects"),
        "no such kind/version in the vendored CRDs",
    ),
    (
        "IngressRoute",
        "odoo-peak",
        lambda d: d.update(apiVersion="traefik.io/v1"),
        "no such kind/version in the vendored CRDs",
    ),
]


@pytest.mark.parametrize(
    "kind,name,mutate,expected",
    MISTAKES,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)],
)
def test_a_typo_in_a_custom_resource_is_an_error(
    schemas, rendered, kind, name, mutate, expected
):
    docs = _broken(rendered["k8s/overlays/dedicated"], kind, name, mutate)
    _checked, errors = validator.validate_documents(docs, schemas)
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_the_lint_script_fails_on_a_broken_file(tmp_path, rendered):
    """End to end, as scripts/lint-deploy.sh calls it: exit status 1, the
    resource and the field named on stderr; a valid file passes."""
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump_all(rendered["k8s/overlays/local"]))
    ok = subprocess.run(
        [sys.executable, str(SCRIPT), str(good)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "0 errors" in ok.stdout

    docs = _broken(
        rendered["k8s/overlays/local"],
        "Cluster",
        "odoo-peak-db",
        lambda d: d["spec"].update(instance=1),
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    failed = subprocess.run(
        [sys.executable, str(SCRIPT), str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "Cluster odoo-peak-local/odoo-peak-db" in failed.stderr
    assert "('instance' was unexpected)" in failed.stderr


def test_timestamps_stay_strings_like_in_kubernetes(schemas):
    """A PITR target time is a string for the API server (YAML -> JSON)."""
    docs = list(
        yaml.load_all(
            (ROOT / "k8s/recovery/cluster-pitr.yaml").read_text(),
            Loader=validator.Loader,
        )
    )
    target = docs[0]["spec"]["bootstrap"]["recovery"]["recoveryTarget"]["targetTime"]
    assert isinstance(target, str)
    unquoted = (
        (ROOT / "k8s/recovery/cluster-pitr.yaml")
        .read_text()
        .replace('"2026-11-27 09:41:00.000000+00"', "2026-11-27 09:41:00.000000+00")
    )
    _checked, errors = validator.validate_documents(
        list(yaml.load_all(unquoted, Loader=validator.Loader)), schemas
    )
    assert errors == []
