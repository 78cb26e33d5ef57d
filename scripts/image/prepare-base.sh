#!/usr/bin/env bash
# Makes this machine able to build and run Otto's image with podman, with no Docker
# daemon and no registry (Debian or Ubuntu, as root or with sudo):
#   1. installs podman, buildah, debootstrap and runc with apt-get when missing;
#   2. writes podman's configuration under the cache directory (OTTO_IMAGE_CACHE,
#      default ${XDG_CACHE_HOME:-~/.cache}/otto-image): containers.conf (file and
#      process limits this sandbox can set, runc) and storage.conf (images and
#      containers under the cache, not the host's /var/lib/containers);
#   3. builds localhost/debian:bookworm-slim, the equivalent of the official
#      debian:bookworm-slim (debootstrap minbase, trimmed the way the official slim
#      image is, security updates applied), once: it stays in the cache, and later
#      runs skip this step (--rebuild forces it, say to take new security updates).
# Then `podman build` resolves `FROM debian:bookworm-slim` to it. Print the variables
# that point podman at this configuration with `--env`.
set -euo pipefail
# shellcheck source=scripts/image/lib.sh
source "$(dirname "$0")/lib.sh"

REBUILD=0
case "${1:-}" in
    --env)
        printf 'export CONTAINERS_CONF=%q CONTAINERS_STORAGE_CONF=%q\n' \
            "$CACHE/containers.conf" "$CACHE/storage.conf"
        exit 0 ;;
    --rebuild) REBUILD=1 ;;
    "") ;;
    *) die "usage: $0 [--rebuild | --env]" ;;
esac

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Packages. Without recommends: podman's would add docker-compose-like extras,
# fuse-overlayfs, slirp4netns and uidmap, none needed as root.
missing=()
for tool in podman:podman buildah:buildah debootstrap:debootstrap runc:runc; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# 2. Configuration, rewritten every run (cheap, and it follows the cache directory).
mkdir -p "$CACHE"
# Runtime state belongs on a tmpfs, so that a reboot forgets it as podman expects.
if [ "$(id -u)" = 0 ]; then RUNROOT=/run/otto-image; else RUNROOT="${XDG_RUNTIME_DIR:-/tmp}/otto-image"; fi
cat >"$CACHE/containers.conf.new" <<EOF
# Written by scripts/image/prepare-base.sh.
[containers]
# Sandboxes without CAP_SYS_RESOURCE cannot raise RLIMIT_NOFILE past their own limit:
# every container start would fail with "setrlimit RLIMIT_NOFILE".
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
# crun refuses hybrid cgroup hierarchies; runc runs on them.
runtime = "runc"
tmp_dir = "$RUNROOT/libpod"

[network]
# Networks the smoke test creates are described here, not in /etc/cni/net.d.
network_config_dir = "$CACHE/networks"
EOF
cat >"$CACHE/storage.conf.new" <<EOF
# Written by scripts/image/prepare-base.sh.
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "$RUNROOT/storage"
EOF
mv "$CACHE/containers.conf.new" "$CACHE/containers.conf"
mv "$CACHE/storage.conf.new" "$CACHE/storage.conf"
mkdir -p "$CACHE/networks"
export CONTAINERS_CONF="$CACHE/containers.conf" CONTAINERS_STORAGE_CONF="$CACHE/storage.conf"

# 3. The base image.
if [ "$REBUILD" = 0 ] && podman image exists "$BASE_IMAGE"; then
    say "base image $BASE_IMAGE is cached in $CACHE/storage"
    exit 0
fi

# The Debian mirror apt already uses (deb822 or one-line sources), else deb.debian.org.
mirror() {
    local suite="$1" url=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        url="$(awk -v suite="$suite" '
            /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = uri }
            /^$/ { uri = "" } END { print found }' /etc/apt/sources.list.d/debian.sources)"
    fi
    if [ -z "$url" ] && [ -f /etc/apt/sources.list ]; then
        url="$(awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list)"
    fi
    printf '%s' "${url:-$2}"
}
MIRROR="$(mirror bookworm http://deb.debian.org/debian)"
SECURITY="$(mirror bookworm-security http://deb.debian.org/debian-security)"

WORK="$(mktemp -d "$CACHE/base.XXXXXX")"
ROOTFS="$WORK/rootfs"
cleanup() {
    mountpoint -q "$ROOTFS/proc" 2>/dev/null && as_root umount "$ROOTFS/proc"
    as_root rm -rf "$WORK"
}
trap cleanup EXIT

started=$SECONDS
say "debootstrap bookworm (minbase) from $MIRROR"
as_root debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

# What the official slim image (debuerreotype) configures: dpkg leaves out docs, man
# pages and translations from now on, and apt keeps no caches or translated indexes.
as_root tee "$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
# This is the "slim" variant: files that are normally unnecessary in containers are
# excluded, and this configuration keeps them that way.
path-exclude /usr/share/doc/*
# copyright files are kept for legal reasons
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
as_root tee "$ROOTFS/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
as_root tee "$ROOTFS/etc/apt/apt.conf.d/docker-no-languages" >/dev/null <<<'Acquire::Languages "none";'
as_root tee "$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests" >/dev/null <<<'Apt::AutoRemove::SuggestsImportant "false";'
as_root rm -f "$ROOTFS/etc/apt/sources.list"
as_root tee "$ROOTFS/etc/apt/sources.list.d/debian.sources" >/dev/null <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# debootstrap installs from the release alone: take bookworm-updates and the security
# updates too, with no service started inside the chroot.
say "applying updates (bookworm-updates, bookworm-security)"
as_root cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
as_root tee "$ROOTFS/usr/sbin/policy-rc.d" >/dev/null <<<$'#!/bin/sh\nexit 101'
as_root chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
as_root mount -t proc proc "$ROOTFS/proc"
as_root chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get -y -qq -o Dpkg::Options::=--force-confdef upgrade && apt-get clean' \
    >"$WORK/upgrade.log" 2>&1 || { tail -30 "$WORK/upgrade.log" >&2; die "upgrading the base failed (log above)"; }
as_root umount "$ROOTFS/proc"

# Trim what the exclusions above now keep out, and what identifies this build.
as_root find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
as_root find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
as_root rm -rf "$ROOTFS"/usr/share/{groff,info,linda,lintian,locale,man}/* \
    "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/ldconfig/aux-cache \
    "$ROOTFS"/var/log/apt/* "$ROOTFS"/var/log/{dpkg,alternatives,bootstrap}.log \
    "$ROOTFS"/var/lib/dpkg/*-old "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* \
    "$ROOTFS/etc/resolv.conf" "$ROOTFS/usr/sbin/policy-rc.d" "$ROOTFS/var/lib/dbus/machine-id"
as_root truncate -s 0 "$ROOTFS/etc/machine-id"

say "importing $BASE_IMAGE"
as_root tar --numeric-owner -C "$ROOTFS" -c . \
    | podman import --quiet --change 'CMD ["bash"]' --message "debootstrap minbase bookworm, slim, $(date -u +%F)" \
        - "$BASE_IMAGE" >/dev/null
say "base image $BASE_IMAGE built in $((SECONDS - started)) s ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}'))"
