"""k8s/argocd: the AppProject, the dedicated Application and the tenants'
ApplicationSet render with kustomize, validate against Argo CD's vendored
CRDs, fit the overlays they deploy, and carry the generated sync windows."""

import copy
import subprocess
from pathlib import Path

import pytest
import yaml
from test_deploy_schemas import ROOT, find, render, validator

ARGOCD = "k8s/argocd"


@pytest.fixture(scope="module")
def schemas():
    return validator.load_crd_schemas()


@pytest.fixture(scope="module")
def argocd():
    return render(ARGOCD)


@pytest.fixture(scope="module")
def overlays():
    return {
        path: render(path) for path in ("k8s/overlays/dedicated", "k8s/overlays/shared")
    }


def test_argocd_renders_and_validates(schemas, argocd):
    assert {(d["kind"], d["metadata"]["name"]) for d in argocd} == {
        ("AppProject", "odoo-peak"),
        ("Application", "odoo-peak"),
        ("ApplicationSet", "odoo-peak-tenants"),
    }
    assert {d["metadata"]["namespace"] for d in argocd} == {"argocd"}
    checked, errors = validator.validate_documents(argocd, schemas)
    assert (checked, errors) == (3, [])


MISTAKES = [
    (
        "AppProject",
        lambda d: d["spec"]["syncWindows"][0].update(timezone="UTC"),
        "('timezone' was unexpected)",
    ),
    (
        "AppProject",
        lambda d: d["spec"]["syncWindows"][0].update(manualSync="yes"),
        "'yes' is not of type 'boolean'",
    ),
    (
        "Application",
        lambda d: d["spec"]["syncPolicy"]["automated"].update(selfheal=True),
        "('selfheal' was unexpected)",
    ),
    (
        "ApplicationSet",
        lambda d: d["spec"]["generators"][0]["git"].update(directory=[]),
        "('directory' was unexpected)",
    ),
]


@pytest.mark.parametrize("kind,mutate,expected", MISTAKES, ids=lambda v: str(v)[:20])
def test_a_typo_in_an_argocd_resource_is_an_error(
    schemas, argocd, kind, mutate, expected
):
    docs = copy.deepcopy(argocd)
    mutate(find(docs, kind))
    _checked, errors = validator.validate_documents(docs, schemas)
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_the_project_allows_exactly_what_the_overlays_deploy(argocd, overlays):
    project = find(argocd, "AppProject")["spec"]
    deployed = {
        (
            doc["apiVersion"].rpartition("/")[0],
            doc["kind"],
            "namespace" in doc["metadata"],
        )
        for docs in overlays.values()
        for doc in docs
    }
    cluster = {(r["group"], r["kind"]) for r in project["clusterResourceWhitelist"]}
    namespaced = {
        (r["group"], r["kind"]) for r in project["namespaceResourceWhitelist"]
    }
    assert cluster == {(g, k) for g, k, ns in deployed if not ns}
    assert namespaced == {(g, k) for g, k, ns in deployed if ns}
    assert {"Secret", "Role", "RoleBinding", "ClusterRole"}.isdisjoint(
        kind for _g, kind in cluster | namespaced
    )


def test_applications_point_at_the_overlays(argocd, overlays):
    project = find(argocd, "AppProject")["spec"]
    repo = project["sourceRepos"][0]
    dedicated = find(argocd, "Application")["spec"]
    assert dedicated["project"] == "odoo-peak"
    assert dedicated["source"] == {
        "repoURL": repo,
        "targetRevision": "main",
        "path": "k8s/overlays/dedicated",
    }
    namespaces = {
        d["metadata"]["namespace"]
        for d in overlays["k8s/overlays/dedicated"]
        if "namespace" in d["metadata"]
    }
    assert namespaces == {dedicated["destination"]["namespace"]} == {"odoo-peak"}
    assert dedicated["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "finalizers" not in find(argocd, "Application")["metadata"]

    appset = find(argocd, "ApplicationSet")["spec"]
    (generator,) = appset["generators"]
    (directories,) = generator["git"]["directories"]
    tenants = sorted(ROOT.glob(directories["path"]))
    assert [t.name for t in tenants] == ["acme", "globex"]
    assert appset["syncPolicy"] == {
        "applicationsSync": "create-update",
        "preserveResourcesOnDeletion": True,
    }
    template = appset["template"]["spec"]
    for tenant in tenants:
        rendered_ns = yaml.safe_load((tenant / "kustomization.yaml").read_text())[
            "namespace"
        ]
        assert (
            template["destination"]["namespace"].replace(
                "{{ .path.basename }}", tenant.name
            )
            == rendered_ns
        )
    assert template["syncPolicy"] == dedicated["syncPolicy"]
    assert template["ignoreDifferences"] == dedicated["ignoreDifferences"]
    for pattern in (d["namespace"] for d in project["destinations"]):
        assert pattern in ("odoo-peak", "peak-*")


def test_the_generated_sync_windows_are_in_the_project(argocd):
    generated = yaml.safe_load((ROOT / ARGOCD / "sync-windows.yaml").read_text())
    project = find(argocd, "AppProject")
    assert project["spec"]["syncWindows"] == generated["spec"]["syncWindows"]
    assert project["spec"]["syncWindows"], "deny windows are there"
    for window in project["spec"]["syncWindows"]:
        assert window["kind"] == "deny" and window["manualSync"] is True
    annotations = project["metadata"]["annotations"]
    assert "peak.odoo-peak.io/sync-windows-valid-until" in annotations
    # The hand-written project keeps its own fields next to the windows.
    assert project["spec"]["sourceRepos"] and project["spec"]["destinations"]


def test_the_lint_script_builds_argocd():
    script = (ROOT / "scripts" / "lint-deploy.sh").read_text()
    assert "k8s/recovery k8s/argocd; do" in script
    assert "argoproj\\.io|" in script
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(Path(ROOT, ARGOCD))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "kind: AppProject" in rendered
