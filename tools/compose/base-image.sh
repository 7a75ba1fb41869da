#!/usr/bin/env bash
# Build the local base image PYTHON_IMAGE (default shelter-watch/python:3.11) where no registry
# can be reached: `debootstrap --variant=minbase bookworm` -> `docker import` as DEBIAN_IMAGE
# (default shelter-watch/debian:bookworm), then tools/compose/python.Dockerfile on top.
# Cached: each image is skipped when it exists (REBUILD=1 rebuilds both). Needs root for
# debootstrap. The build context is a tiny folder holding only certs/ (see certs/README.md).
set -euo pipefail
PYTHON_IMAGE=${PYTHON_IMAGE:-shelter-watch/python:3.11}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-shelter-watch/debian:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
log() { echo "[base-image] $*" >&2; }
exists() { docker image inspect "$1" >/dev/null 2>&1; }

if [ "${REBUILD:-0}" != 1 ] && exists "$PYTHON_IMAGE"; then
  log "$PYTHON_IMAGE exists (REBUILD=1 to rebuild)"; exit 0
fi
if [ "${REBUILD:-0}" = 1 ] || ! exists "$DEBIAN_IMAGE"; then
  command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  rootfs=$(mktemp -d /tmp/shelter-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap --variant=minbase bookworm (about a minute)"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/tmp/debootstrap.log 2>&1 \
    || { tail -20 /tmp/debootstrap.log >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - "$DEBIAN_IMAGE" >/dev/null
  log "imported $DEBIAN_IMAGE"
fi
ctx=$(mktemp -d /tmp/shelter-base.XXXXXX)
trap 'rm -rf "$ctx" ${rootfs:+"$rootfs"}' EXIT
mkdir -p "$ctx/certs" && cp -r "$root/certs/." "$ctx/certs/" 2>/dev/null || true
DOCKER_BUILDKIT=0 docker build -q -f "$here/python.Dockerfile" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" \
  -t "$PYTHON_IMAGE" "$ctx" >/dev/null
log "built $PYTHON_IMAGE ($(docker image inspect -f '{{.Size}}' "$PYTHON_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
