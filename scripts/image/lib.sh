# Shared by scripts/image/*.sh: where podman keeps its configuration and storage, which
# container engine builds and runs the image, and the release binary a prebuilt image
# takes.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The base image, podman's storage and its configuration live here between runs.
CACHE="${OTTO_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otto-image}"
IMAGE="${IMAGE:-otto}"
# shellcheck disable=SC2034 # used by prepare-base.sh
BASE_IMAGE=localhost/debian:bookworm-slim

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }

# The engine: $DOCKER when set (docker, podman or a path), else docker when its daemon
# answers, else podman. Sets ENGINE and ENGINE_KIND (docker or podman).
choose_engine() {
    if [ -n "${DOCKER:-}" ]; then
        ENGINE="$DOCKER"
    elif command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1; then
        ENGINE=docker
    else
        ENGINE=podman
    fi
    case "$("$ENGINE" --version 2>/dev/null)" in
        *podman*) ENGINE_KIND=podman ;;
        "") [ "$(basename "$ENGINE")" = podman ] && ENGINE_KIND=podman || ENGINE_KIND=docker ;;
        *) ENGINE_KIND=docker ;;
    esac
    if [ "$ENGINE_KIND" = podman ]; then
        # prepare-base.sh writes these: the machine's limits (RLIMIT_NOFILE, runc) and
        # storage of our own instead of the host's defaults.
        export CONTAINERS_CONF="$CACHE/containers.conf"
        export CONTAINERS_STORAGE_CONF="$CACHE/storage.conf"
    fi
}

# The release binary a prebuilt image copies: OTTO_BIN as given, else
# $CARGO_TARGET_DIR/release/otto-server, (re)built with cargo when it is missing or
# older than a source file, Cargo.toml or Cargo.lock. Sets BIN.
ensure_binary() {
    if [ -n "${OTTO_BIN:-}" ]; then
        BIN="$OTTO_BIN"
        [ -x "$BIN" ] || die "OTTO_BIN=$BIN is not an executable file"
        return 0
    fi
    local target="${CARGO_TARGET_DIR:-$ROOT/target}"
    case "$target" in /*) ;; *) target="$ROOT/$target" ;; esac
    BIN="$target/release/otto-server"
    local stale=""
    if [ -x "$BIN" ]; then
        stale="$(cd "$ROOT" && find Cargo.toml Cargo.lock otto-* migrations -newer "$BIN" \
            \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' -o -name '*.sql' \) \
            -print -quit 2>/dev/null)"
        [ -z "$stale" ] && return 0
        say "$BIN is older than $stale: rebuilding"
    else
        say "no $BIN: building it"
    fi
    (cd "$ROOT" && cargo build --release --locked -p otto-server --bin otto-server) \
        || die "cargo build --release failed"
}

# Podman's bridge networks (CNI) turn on IPv4 forwarding, add a bridge per network and
# iptables chains (CNI-*) that outlive the containers. host_network_snapshot notes the
# host's state; host_network_restore puts it back: forwarding as it was, bridges that
# appeared since deleted, and the CNI-* chains and rules removed when there were none
# before (otherwise only those of our containers, which podman removes itself).
host_network_snapshot() {
    FORWARD_BEFORE="$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || true)"
    BRIDGES_BEFORE="$(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }')"
    CNI_RULES_BEFORE=0
    if command -v iptables-save >/dev/null 2>&1; then
        CNI_RULES_BEFORE="$({ iptables-save; ip6tables-save; } 2>/dev/null | grep -c -- 'CNI-' || true)"
    fi
}
host_network_restore() {
    [ "$(id -u)" = 0 ] || return 0
    local link save
    for link in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }'); do
        grep -qxF -- "$link" <<<"$BRIDGES_BEFORE" || ip link delete "$link" 2>/dev/null || true
    done
    if [ "${CNI_RULES_BEFORE:-1}" = 0 ]; then
        for save in iptables ip6tables; do
            command -v "$save-save" >/dev/null 2>&1 || continue
            if "$save-save" 2>/dev/null | grep -q -- 'CNI-'; then
                "$save-save" | grep -v -- 'CNI-' | "$save-restore" || say "could not remove CNI-* rules from $save"
            fi
        done
    fi
    if [ -n "${FORWARD_BEFORE:-}" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$FORWARD_BEFORE" ]; then
        echo "$FORWARD_BEFORE" >/proc/sys/net/ipv4/ip_forward || true
    fi
}
