#!/usr/bin/env bash
# `make images`: the Odoo and governor images, built offline with buildah
# (no Docker engine, no registry):
#   1. a local Debian 12 base (debootstrap bookworm from the apt mirror),
#      built once and cached under a tag made of the digest of its recipe;
#   2. the Odoo 18.0 source as a local image named `odoo`, which
#      odoo.Dockerfile's `COPY --from=odoo` reads (buildah 1.28 has no
#      --build-context);
#   3. docker/odoo.Dockerfile and docker/governor.Dockerfile with
#      BASE=<the local base>, tagged from the git revision;
# then prints their sizes and writes them to $PEAK_STATE_DIR/images.env for
# `make image-test`. A second run with nothing changed takes seconds: the
# tags name the repository's tree and a label the Odoo tree.
#
#   scripts/images.sh [base|build|clean]   (default build, which includes
#                                          base; clean drops the whole store)
#
# Variables: PEAK_IMAGE_STORE (/var/lib/containers/odoo-peak: kept across
# clean clones, so CI on one machine reuses the cache), PEAK_IMAGE_DRIVER
# (overlay when the kernel allows it, else vfs), PEAK_DEBIAN_MIRROR,
# PEAK_DEBIAN_SECURITY_MIRROR, PEAK_IMAGE_NICE (15), ODOO_SRC.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${PEAK_STATE_DIR:-$ROOT/.state}
STORE=${PEAK_IMAGE_STORE:-/var/lib/containers/odoo-peak}
MIRROR=${PEAK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${PEAK_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
NICE=${PEAK_IMAGE_NICE:-15}
# Old images are dropped, and past this size the layer cache too.
STORE_MAX_GB=${PEAK_IMAGE_STORE_MAX_GB:-40}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'images: %s\n' "$*" >&2; exit 1; }
elapsed() { printf '%ds' "$((SECONDS - $1))"; }

ensure_tools() {
    [ "$(id -u)" -eq 0 ] || die "buildah needs root here (chroot isolation): run as root"
    local missing=()
    command -v buildah >/dev/null || missing+=(buildah)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# overlay when this kernel mounts it (fast, layers share files); vfs copies
# every layer in full but works anywhere. Chosen once per store.
storage_driver() {
    if [ -n "${PEAK_IMAGE_DRIVER:-}" ]; then
        echo "$PEAK_IMAGE_DRIVER"
    elif [ -f "$STORE/driver" ]; then
        cat "$STORE/driver"
    else
        mkdir -p "$STORE"
        local probe="$STORE/probe" driver=vfs ctr
        if ctr=$(buildah --root "$probe" --runroot "$probe/run" --storage-driver overlay \
            from scratch 2>/dev/null) \
            && buildah --root "$probe" --runroot "$probe/run" --storage-driver overlay \
                mount "$ctr" >/dev/null 2>&1; then
            driver=overlay
        fi
        buildah --root "$probe" --runroot "$probe/run" --storage-driver overlay \
            rm --all >/dev/null 2>&1 || true
        rm -rf "$probe"
        echo "$driver" >"$STORE/driver"
        echo "$driver"
    fi
}

bh() {
    nice -n "$NICE" buildah --root "$STORE/storage" --runroot "$STORE/run" \
        --storage-driver "$DRIVER" "$@"
}

have_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

# The recipe of the base; its text is part of the cache key. Like
# debian:bookworm-slim, which the official Python image starts from: apt
# sources for updates and security, no docs or man pages, no apt lists.
debian_root() {
    local dir=$1
    debootstrap --variant=minbase --components=main "$SUITE" "$dir" "$MIRROR"
    cat >"$dir/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
    cat >"$dir/etc/dpkg/dpkg.cfg.d/peak-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
EOF
    find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$dir/usr/share/man/"* "$dir/usr/share/info/"*
    rm -rf "$dir/var/lib/apt/lists/"* "$dir/var/cache/apt/"*.bin \
        "$dir/var/cache/apt/archives/"*.deb "$dir/var/log/"*.log "$dir/var/log/apt/"*
}

base_ref() {
    local key
    key=$({
        declare -f debian_root
        printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR"
    } | sha256sum | cut -c1-12)
    echo "localhost/odoo-peak/base:$SUITE-$key"
}

build_base() {
    local ref=$1 start=$SECONDS
    if have_image "$ref"; then
        say "base $ref: cached"
        return
    fi
    say "base $ref: debootstrap $SUITE from $MIRROR (a few minutes, once)"
    local work
    work=$(mktemp -d "$STORE/base.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    # shellcheck disable=SC2016  # $1 is expanded by the inner bash
    if ! SUITE=$SUITE MIRROR=$MIRROR SECURITY_MIRROR=$SECURITY_MIRROR nice -n "$NICE" \
        bash -c "$(declare -f debian_root)"'; debian_root "$1"' _ "$work/root" \
        >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        die "debootstrap failed (last lines above)"
    fi
    # /dev is made by the container runtime; device nodes are not image content.
    tar -C "$work/root" --numeric-owner --exclude='./dev/*' -cf "$work/root.tar" .
    local ctr
    ctr=$(bh from scratch)
    bh add "$ctr" "$work/root.tar" / >/dev/null
    bh config --env LANG=C.UTF-8 --cmd /bin/bash \
        --label "io.odoo-peak.base.recipe=$ref" "$ctr"
    bh commit --rm --quiet "$ctr" "$ref" >/dev/null
    rm -rf "$work"
    trap - EXIT
    say "base $ref: built in $(elapsed "$start")"
}

odoo_src() {
    local src=${ODOO_SRC:-}
    [ -n "$src" ] || src=$(cat "$STATE/odoo-src" 2>/dev/null || echo /opt/odoo)
    [ -f "$src/odoo-bin" ] || die "no Odoo 18.0 source at $src (set ODOO_SRC or run make bootstrap)"
    echo "$src"
}

# The Odoo tree as image `localhost/odoo`, the name odoo.Dockerfile's
# `COPY --from=odoo` resolves to. Layer cache: rebuilt only when a file
# changed.
build_odoo_source() {
    local src=$1 start=$SECONDS
    printf 'FROM scratch\nCOPY . /\n' >"$STORE/odoo-src.Containerfile"
    printf '%s\n' .git .github .tx '**/__pycache__' '**/*.pyc' >"$STORE/odoo-src.ignore"
    say "Odoo source $src -> localhost/odoo"
    bh bud --quiet --layers --force-rm --isolation chroot --ignorefile "$STORE/odoo-src.ignore" \
        -f "$STORE/odoo-src.Containerfile" -t localhost/odoo:latest "$src" >/dev/null
    say "Odoo source: $(elapsed "$start")"
}

# The git revision, plus a digest of uncommitted changes (untracked files
# included): the same tree always gets the same tag, and nothing is written
# to the repository.
revision() {
    local head dirty
    head=$(git -C "$ROOT" rev-parse --short=12 HEAD)
    if [ -z "$(git -C "$ROOT" status --porcelain)" ]; then
        echo "$head"
        return
    fi
    dirty=$(cd "$ROOT" && {
        git diff HEAD --binary
        git ls-files -o --exclude-standard -z | xargs -0r sha256sum
    } | sha256sum | cut -c1-8)
    echo "$head-dirty-$dirty"
}

# pip in the build trusts what pip on this host trusts: behind a
# TLS-inspecting proxy (PIP_CERT and friends name its CA) the bundle is
# bind-mounted for RUN steps only, never copied into an image.
pip_ca_args() {
    local ca=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}
    [ -n "$ca" ] && [ -r "$ca" ] || return 0
    printf '%s\n' --volume "$ca:/etc/pip-build-ca.pem:ro" \
        --build-arg PIP_BUILD_CA=/etc/pip-build-ca.pem
}

# Names, sizes and times of the files of the Odoo tree (content is not
# read: a second), for the label that lets an unchanged build be skipped.
odoo_src_digest() {
    find "$1" \( -name .git -o -name __pycache__ \) -prune -o ! -name '*.pyc' \
        -printf '%P %s %T@\n' | LC_ALL=C sort | sha256sum | cut -c1-16
}

# The tag names the repository's tree (Dockerfiles, pins and this recipe
# included) and the label the Odoo tree: an image with both is up to date,
# and buildah is not even asked (its cache check hashes Odoo's 2 GB).
SOURCE_LABEL=io.odoo-peak.odoo-source
up_to_date() {
    have_image "$1" && [ "$(bh inspect --type image \
        --format "{{index .Docker.Config.Labels \"$SOURCE_LABEL\"}}" "$1")" = "$2" ]
}

build_image() {
    local name=$1 dockerfile=$2 ref=$3 base=$4 rev=$5 src=$6 start=$SECONDS
    local ca_args
    if up_to_date "$ref" "$src"; then
        say "$ref: up to date"
        return
    fi
    mapfile -t ca_args < <(pip_ca_args)
    say "$ref ($dockerfile on $base)"
    bh bud --layers --force-rm --isolation chroot --format docker --pull=never \
        "${ca_args[@]}" --build-arg "BASE=$base" \
        --label "org.opencontainers.image.revision=$rev" --label "$SOURCE_LABEL=$src" \
        -f "$ROOT/$dockerfile" -t "$ref" "$ROOT"
    say "$name: $(elapsed "$start")"
}

# Untag the images of other revisions; past STORE_MAX_GB also drop the
# layer cache (untagged images). The base and the current images stay.
prune() {
    local keep=" $* " image
    while read -r image; do
        case $keep in
            *" $image "*) ;;
            *) bh rmi "$image" >/dev/null 2>&1 || true ;;
        esac
    done < <(bh images --format '{{.Name}}:{{.Tag}}' \
        | grep -E '^localhost/odoo-peak/(odoo|governor|base):' || true)
    local used
    used=$(du -s --block-size=1G "$STORE/storage" | cut -f1)
    if [ "$used" -gt "$STORE_MAX_GB" ]; then
        say "image store uses ${used} GB > ${STORE_MAX_GB} GB: dropping the layer cache"
        bh rmi --prune >/dev/null 2>&1 || true
    fi
}

main() {
    local what=${1:-build} start=$SECONDS
    ensure_tools
    mkdir -p "$STORE" "$STATE"
    DRIVER=$(storage_driver)
    if [ "$what" = clean ]; then
        bh rm --all >/dev/null
        bh rmi --all --force >/dev/null
        rm -rf "$STORE" "$STATE/images.env"
        say "image store $STORE removed"
        return
    fi
    local base
    base=$(base_ref)
    say "image store $STORE ($DRIVER)"
    build_base "$base"
    [ "$what" = base ] && return
    [ "$what" = build ] || die "unknown command '$what' (base, build or clean)"

    local rev odoo_ref governor_ref
    rev=$(revision)
    odoo_ref="localhost/odoo-peak/odoo:18.0-$rev"
    governor_ref="localhost/odoo-peak/governor:$rev"
    local src src_digest
    src=$(odoo_src)
    src_digest=$(odoo_src_digest "$src")
    up_to_date "$odoo_ref" "$src_digest" || build_odoo_source "$src"
    build_image odoo docker/odoo.Dockerfile "$odoo_ref" "$base" "$rev" "$src_digest"
    # No Odoo inside: any Odoo tree will do.
    build_image governor docker/governor.Dockerfile "$governor_ref" "$base" "$rev" none
    prune "$base" "$odoo_ref" "$governor_ref"

    cat >"$STATE/images.env" <<EOF
PEAK_IMAGE_STORE=$STORE
PEAK_IMAGE_DRIVER=$DRIVER
PEAK_IMAGE_BASE=$base
PEAK_IMAGE_ODOO=$odoo_ref
PEAK_IMAGE_GOVERNOR=$governor_ref
EOF
    say "images ready in $(elapsed "$start") (written to $STATE/images.env):"
    bh images --format '  {{.Name}}:{{.Tag}}  {{.Size}}' "$odoo_ref"
    bh images --format '  {{.Name}}:{{.Tag}}  {{.Size}}' "$governor_ref"
    bh images --format '  {{.Name}}:{{.Tag}}  {{.Size}}' "$base"
}

main "$@"
