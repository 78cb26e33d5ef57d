#!/usr/bin/env bash
# `make image`: builds Otto's image ($IMAGE, default `otto`) from Dockerfile and prints
# its size.
#
# Engine: $DOCKER when set (DOCKER=podman), else docker when its daemon answers, else
# podman, prepared by scripts/image/prepare-base.sh (packages, configuration, a local
# debian:bookworm-slim; no registry needed).
# BINARY_FROM: `build` compiles in the Rust image (the default with docker), `prebuilt`
# copies the host's release binary (the default with podman): OTTO_BIN, else
# $CARGO_TARGET_DIR/release/otto-server, built with cargo when missing or stale.
set -euo pipefail
# shellcheck source=scripts/image/lib.sh
source "$(dirname "$0")/lib.sh"

choose_engine
if [ "$ENGINE_KIND" = podman ]; then
    BINARY_FROM="${BINARY_FROM:-prebuilt}"
    "$ROOT/scripts/image/prepare-base.sh"
else
    BINARY_FROM="${BINARY_FROM:-build}"
fi

args=(--build-arg "BINARY_FROM=$BINARY_FROM" -f "$ROOT/Dockerfile" -t "$IMAGE")
# Podman writes OCI images unless told otherwise, and OCI has no HEALTHCHECK. The base
# image is local: never pull it. RUN steps use the host's network: podman's default
# bridge would turn on IP forwarding and leave iptables chains behind.
[ "$ENGINE_KIND" = podman ] && args+=(--format docker --pull=never --network host)

case "$BINARY_FROM" in
    prebuilt)
        ensure_binary
        # A context of the binary alone: nothing else is sent or copied.
        CONTEXT="$(mktemp -d)"
        trap 'rm -rf "$CONTEXT"' EXIT
        mkdir -p "$CONTEXT/target/release"
        cp "$BIN" "$CONTEXT/target/release/otto-server"
        ;;
    build) CONTEXT="$ROOT" ;;
    *) die "BINARY_FROM must be build or prebuilt, not '$BINARY_FROM'" ;;
esac

say "$ENGINE build ($BINARY_FROM${BIN:+: $BIN}) -t $IMAGE"
started=$SECONDS
"$ENGINE" build "${args[@]}" "$CONTEXT" >&2 || die "$ENGINE build failed"
# Podman's storage here is ours alone: drop what the new build left untagged (the
# previous image, the prebuilt stage), or every new binary would add its size to it.
[ "$ENGINE_KIND" = podman ] && podman image prune -f >/dev/null
size="$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE")"
say "built $IMAGE with $ENGINE in $((SECONDS - started)) s: $(awk -v b="$size" 'BEGIN { printf "%.1f MB (%d bytes)", b / 1e6, b }')"
