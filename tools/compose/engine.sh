#!/usr/bin/env bash
# Make sure a Docker engine answers and a compose command exists; print that compose command.
#
# Where `docker info` fails and we run as root with SHELTER_INSTALL_DOCKER != 0, installs Debian's
# docker.io / docker-compose / debootstrap with apt when missing and starts dockerd by hand (no
# systemd on CI machines), its file descriptors closed so the caller's pipe closes when we exit.
# Stdout: the compose command (`docker compose` v2 when the plugin exists, else `docker-compose`).
set -euo pipefail
log() { echo "[engine] $*" >&2; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v docker >/dev/null 2>&1 || need_apt+=(docker.io)
if ! docker compose version >/dev/null 2>&1; then
  command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
fi
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)

if ! docker info >/dev/null 2>&1 || [ ${#need_apt[@]} -gt 0 ]; then
  if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || [ "${SHELTER_INSTALL_DOCKER:-1}" = 0 ]; then
      log "missing: ${need_apt[*]} (install them, or run as root to let this script do it)"; exit 1
    fi
    log "installing ${need_apt[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
  fi
  if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || [ "${SHELTER_INSTALL_DOCKER:-1}" = 0 ]; then
      log "no Docker engine answers and this script may not start one (not root)"; exit 1
    fi
    log "starting dockerd (log: /var/log/dockerd.log)"
    setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not answer in 60 s"; tail -20 /var/log/dockerd.log >&2; exit 1; }
  fi
fi
if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo "docker-compose"; fi
