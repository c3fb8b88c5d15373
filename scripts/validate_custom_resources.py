#!/usr/bin/env python3
"""Validate the operators' custom resources against their vendored CRD schemas.

kubernetes-validate knows the built-in kinds only; the Traefik, KEDA,
CloudNativePG and prometheus-operator resources are checked here instead,
offline, against the CRDs vendored in k8s/schemas/crds (versions and sources
in k8s/schemas/VERSIONS).

    scripts/validate_custom_resources.py RENDERED.yaml [...]   # '-' reads stdin

Every document whose API group is one of the vendored CRD groups must match a
vendored (group, version, kind) and validate against its openAPIV3Schema,
made strict the way kubeconform does it: an object that lists `properties`
accepts no other field unless the schema says
`x-kubernetes-preserve-unknown-fields`. So a misspelt field, a wrong type or a
kind that does not exist fails. CEL rules (`x-kubernetes-validations`) are
not evaluated. Documents of other groups are left to kubernetes-validate.
Exit status: 0 valid, 1 invalid, 2 usage or schema error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
CRD_DIR = ROOT / "k8s" / "schemas" / "crds"


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader that reads timestamps as strings, as Kubernetes does."""


# Kubernetes turns YAML into JSON, which has no timestamp type: a date-like
# value (`targetTime: 2026-11-27 09:41:00+00`) stays a string.
Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag != "tag:yaml.org,2002:timestamp"
    ]
    for first, resolvers in Loader.yaml_implicit_resolvers.items()
}


def strict_schema(node):
    """Return a JSON schema (draft 7) for one OpenAPI v3 CRD schema node."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = strict_schema(value)
        elif key.startswith("x-kubernetes-") or key in (
            "nullable",
            "format",
            "description",
        ):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def load_crd_schemas(crd_dir: Path = CRD_DIR) -> dict[tuple[str, str], dict]:
    """Map (apiVersion, kind) to a validator schema, for every vendored CRD."""
    schemas = {}
    files = sorted(crd_dir.glob("*.yaml"))
    if not files:
        raise SystemExit(f"no CRD in {crd_dir}")
    for path in files:
        for crd in yaml.load_all(path.read_text(), Loader=Loader):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                schema = strict_schema(version["schema"]["openAPIV3Schema"])
                # Checked by the API server, not by the CRD schema.
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def crd_groups(schemas) -> set[str]:
    return {api_version.split("/")[0] for api_version, _kind in schemas}


def describe(doc) -> str:
    meta = doc.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind')} {where}{meta.get('name', '?')} ({doc.get('apiVersion')})"


def validate_documents(docs, schemas) -> tuple[int, list[str]]:
    """Validate the custom resources among docs; return (count, errors)."""
    groups = crd_groups(schemas)
    checked = 0
    errors = []
    for doc in docs:
        if not isinstance(doc, dict) or "/" not in str(doc.get("apiVersion", "")):
            continue
        api_version = doc["apiVersion"]
        if api_version.split("/")[0] not in groups:
            continue
        checked += 1
        schema = schemas.get((api_version, doc.get("kind")))
        if schema is None:
            known = sorted(
                k for v, k in schemas if v.split("/")[0] == api_version.split("/")[0]
            )
            errors.append(
                f"{describe(doc)}: no such kind/version in the vendored CRDs "
                f"(known: {', '.join(known)})"
            )
            continue
        validator = jsonschema.Draft7Validator(schema)
        for error in sorted(
            validator.iter_errors(doc), key=lambda e: list(e.absolute_path)
        ):
            path = ".".join(str(part) for part in error.absolute_path) or "(root)"
            errors.append(f"{describe(doc)}: {path}: {error.message}")
    return checked, errors


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print(
            "usage: validate_custom_resources.py RENDERED.yaml [...]", file=sys.stderr
        )
        return 2
    try:
        schemas = load_crd_schemas()
    except (OSError, yaml.YAMLError, KeyError) as exc:
        print(f"cannot load the CRD schemas in {CRD_DIR}: {exc}", file=sys.stderr)
        return 2
    status = 0
    for name in argv:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
        try:
            docs = list(yaml.load_all(text, Loader=Loader))
        except yaml.YAMLError as exc:
            print(f"{name}: not YAML: {exc}", file=sys.stderr)
            return 2
        checked, errors = validate_documents(docs, schemas)
        for error in errors:
            print(f"{name}: {error}", file=sys.stderr)
        print(f"{name}: {checked} custom resources, {len(errors)} errors")
        if errors:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
