#!/usr/bin/env bash
# The compose front door behind `make up`, `make down`, `make logs`, `make test-compose`:
#   run.sh up | down | logs | build | test [pytest args...]
# Works with `docker compose` v2 and docker-compose 1.29 (tools/compose/engine.sh picks one and
# starts an engine where none runs). The images build on PYTHON_IMAGE / DEBIAN_IMAGE; unset, they
# are the local base built from Debian's packages (tools/compose/base-image.sh, cached), as no
# registry may be reachable; set PYTHON_IMAGE=python:3.11-slim DEBIAN_IMAGE=debian:bookworm-slim
# to use the official ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd); cd "$root"
log() { echo "[compose] $*" >&2; }
env_value() { sed -n "s/^$1=//p" .env 2>/dev/null | tail -1; }
export PYTHON_IMAGE=${PYTHON_IMAGE:-$(env_value PYTHON_IMAGE)}
export PYTHON_IMAGE=${PYTHON_IMAGE:-shelter-watch/python:3.11}
export DEBIAN_IMAGE=${DEBIAN_IMAGE:-$(env_value DEBIAN_IMAGE)}
export DEBIAN_IMAGE=${DEBIAN_IMAGE:-shelter-watch/debian:bookworm}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-shelter-watch}
read -r -a compose <<<"$("$here/engine.sh")"

base_images() {
  case "$PYTHON_IMAGE$DEBIAN_IMAGE" in *shelter-watch/*) "$here/base-image.sh" ;; esac
}

build() {
  base_images
  local t0=$SECONDS
  log "building the images (cached layers are reused)"
  # compose interpolates the whole file even to build: the password is not used at build time
  REDIS_PASSWORD=${REDIS_PASSWORD:-unused-at-build} "${compose[@]}" build "$@" >&2
  log "built in $((SECONDS - t0)) s"
}

# Wait until every container of the project reports healthy (or give up after $1 s).
wait_healthy() {
  local deadline=$((SECONDS + ${1:-300})) ids states
  while :; do
    ids=$("${compose[@]}" ps -q)
    states=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids)
    if ! grep -qv ' healthy$' <<<"$states"; then return 0; fi
    if [ $SECONDS -ge "$deadline" ]; then log "not healthy in time:"; echo "$states" >&2; return 1; fi
    sleep 2
  done
}

# `.env` for `make up`: created once with fresh secrets when missing (compose reads it).
ensure_env() {
  if [ ! -f .env ]; then
    umask 077
    { echo "# made by make up: the compose variables (see .env.example)"
      echo "REDIS_PASSWORD=$(openssl rand -hex 32)"
      echo "GATEWAY_BOOTSTRAP_ADMIN_KEY=$(openssl rand -hex 24)"; } >.env
    log "wrote .env with a new REDIS_PASSWORD and GATEWAY_BOOTSTRAP_ADMIN_KEY"
  fi
}

case "${1:-}" in
  up)
    ensure_env; build
    "${compose[@]}" up -d --scale "classifier=${CLASSIFIER_REPLICAS:-2}"
    wait_healthy 300
    port=${GATEWAY_PORT:-$(env_value GATEWAY_PORT)}; key=${GATEWAY_BOOTSTRAP_ADMIN_KEY:-$(env_value GATEWAY_BOOTSTRAP_ADMIN_KEY)}
    echo "gateway: http://127.0.0.1:${port:-8000}   API key (bootstrap admin): ${key:-<none: set GATEWAY_BOOTSTRAP_ADMIN_KEY in .env>}"
    echo "logs: make logs   stop: make down (keeps the volumes; add -v by hand to drop them)" ;;
  down) "${compose[@]}" down ;;
  logs) "${compose[@]}" logs -f --tail=100 ;;
  build) shift; build "$@" ;;
  test)
    shift
    # Its own project, port and secrets, so it never meets a `make up` stack or its .env.
    export COMPOSE_PROJECT_NAME=${SHELTER_COMPOSE_PROJECT:-shelter-watch-test}
    export GATEWAY_PORT=${GATEWAY_PORT:-18000}
    export REDIS_PASSWORD=${REDIS_PASSWORD:-$(openssl rand -hex 32)}
    export GATEWAY_BOOTSTRAP_ADMIN_KEY=${GATEWAY_BOOTSTRAP_ADMIN_KEY:-$(openssl rand -hex 24)}
    export GATEWAY_RATE_ADMIN_RPS=${GATEWAY_RATE_ADMIN_RPS:-500} GATEWAY_RATE_ADMIN_BURST=${GATEWAY_RATE_ADMIN_BURST:-500}
    export GATEWAY_RATE_ADDRESS_RPS=${GATEWAY_RATE_ADDRESS_RPS:-500} GATEWAY_RATE_ADDRESS_BURST=${GATEWAY_RATE_ADDRESS_BURST:-500}
    export SHELTER_COMPOSE="${compose[*]}"
    t0=$SECONDS
    build
    teardown() {
      rc=$?
      if [ $rc -ne 0 ]; then mkdir -p var; "${compose[@]}" logs --no-color >var/compose-test.log 2>&1 || true
        log "logs of the failed run: var/compose-test.log"; fi
      "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
      # the redeploy tests' one-off tags (their layers are shared with :dev, so this is cheap)
      docker images --format '{{.Repository}}:{{.Tag}}' | grep ':redeploy-' | xargs -r docker rmi >/dev/null 2>&1 || true
      log "make test-compose: exit $rc after $((SECONDS - t0)) s"
      exit $rc
    }
    trap teardown EXIT
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true  # a previous run's leftovers
    "${compose[@]}" up -d --scale "classifier=${CLASSIFIER_REPLICAS:-2}"
    wait_healthy 300
    log "stack healthy after $((SECONDS - t0)) s; running tests/compose"
    "$root/.venv/bin/python" -m pytest -m compose tests/compose -p no:cacheprovider "$@" ;;
  *) echo "usage: $0 up|down|logs|build|test [pytest args]" >&2; exit 2 ;;
esac
