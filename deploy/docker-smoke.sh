#!/bin/sh
# Builds the sagad image and smoke-tests it where a Docker engine runs: a container with a
# mounted definitions file (and the embedded nats-server) must become healthy (its healthcheck
# asks /readyz), run tini as PID 1, do the same under an arbitrary uid in group 0, refuse to
# start without definitions, and stop with exit code 0 on SIGTERM.
#
# Needs: a Docker engine, and node:22-bookworm-slim from a registry or already loaded
# (`docker load`); building needs the npm registry and the Debian mirror.
set -eu

usage() {
  cat <<'USAGE'
Usage: deploy/docker-smoke.sh [--image NAME] [--no-build] [--timeout SECONDS] [--network NAME]

  --image NAME       image to build and test (default sagad:smoke)
  --no-build         test an image that is already built
  --timeout SECONDS  how long a container may take to become healthy (default 90)
  --network NAME     network for the build and the containers, e.g. host on an engine
                     started with --bridge=none (default: the engine's default)

Exit codes: 0 passed, 1 a check failed, 2 usage error, 3 no Docker engine reachable.
USAGE
}

image=sagad:smoke
build=yes
timeout=90
network=""
while [ $# -gt 0 ]; do
  case "$1" in
    --image) [ $# -ge 2 ] || { echo "docker-smoke: --image needs a name" >&2; exit 2; }; image=$2; shift 2 ;;
    --no-build) build=no; shift ;;
    --timeout)
      [ $# -ge 2 ] || { echo "docker-smoke: --timeout needs a number of seconds" >&2; exit 2; }
      case "$2" in ''|*[!0-9]*) echo "docker-smoke: --timeout needs a number of seconds, not '$2'" >&2; exit 2 ;; esac
      timeout=$2; shift 2 ;;
    --network) [ $# -ge 2 ] || { echo "docker-smoke: --network needs a name" >&2; exit 2; }; network=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "docker-smoke: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "docker-smoke: no Docker engine reachable (docker info failed); start one or set DOCKER_HOST" >&2
  exit 3
fi

root=$(cd "$(dirname "$0")/.." && pwd)
# Word-split on purpose: empty, or "--network NAME".
net=${network:+--network $network}
work=$(mktemp -d)
containers=""
cleanup() {
  for c in $containers; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() { echo "docker-smoke: FAILED: $*" >&2; exit 1; }
ok() { echo "docker-smoke: ok: $*"; }

if [ "$build" = yes ]; then
  # shellcheck disable=SC2086
  docker build $net -t "$image" "$root" || fail "docker build"
  ok "built $image"
fi

cat >"$work/saga-definitions.yaml" <<'DEFS'
version: 1
sagas:
  - name: smoke
    defaults: { timeout: 5s }
    steps:
      - name: only
        command: { subject: smoke.commands, type: Smoke }
        reply: { subject: smoke.events, success: [Smoked] }
        pivot: true
DEFS
chmod 644 "$work/saga-definitions.yaml"

# Starts container NAME with the definitions mounted; extra arguments go to docker run.
start() {
  name=$1
  shift
  containers="$containers $name"
  # shellcheck disable=SC2086
  docker run -d $net --name "$name" -e SAGA_API_TOKEN=smoke-token \
    -v "$work/saga-definitions.yaml:/etc/sagad/saga-definitions.yaml:ro" "$@" "$image" >/dev/null || fail "docker run $name"
}

# Waits until the container's healthcheck (GET /readyz) reports healthy.
healthy() {
  waited=0
  while [ "$waited" -lt "$timeout" ]; do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null || echo gone)
    [ "$status" = healthy ] && return 0
    running=$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null || echo false)
    [ "$running" = true ] || { docker logs "$1" >&2 || true; fail "$1 exited before it was healthy"; }
    sleep 1
    waited=$((waited + 1))
  done
  docker logs "$1" >&2 || true
  fail "$1 not healthy within $timeout s (last status: $status)"
}

c=sagad-smoke-$$-default
start "$c"
healthy "$c"
ok "healthy: /readyz answers with the mounted definitions and the embedded nats-server"
[ "$(docker exec "$c" cat /proc/1/comm)" = tini ] || fail "PID 1 is not tini"
ok "PID 1 is tini"
docker stop -t 30 "$c" >/dev/null
[ "$(docker inspect --format '{{.State.ExitCode}}' "$c")" = 0 ] || { docker logs "$c" >&2; fail "exit code after SIGTERM is not 0"; }
ok "SIGTERM drains and exits 0"

c=sagad-smoke-$$-uid
start "$c" --user 4242:0
healthy "$c"
ok "an arbitrary uid in group 0 can write /data"

name=sagad-smoke-$$-nodefs
containers="$containers $name"
docker run $net --name "$name" -e SAGA_API_TOKEN=smoke-token "$image" >/dev/null 2>&1 && fail "started without a definitions file"
docker logs "$name" 2>&1 | grep -q 'mount it' || { docker logs "$name" >&2; fail "the refusal does not say how to mount definitions"; }
ok "without definitions it refuses, saying how to mount them"

name=sagad-smoke-$$-notoken
containers="$containers $name"
docker run $net --name "$name" -v "$work/saga-definitions.yaml:/etc/sagad/saga-definitions.yaml:ro" "$image" >/dev/null 2>&1 && fail "listened on 0.0.0.0 without a token"
docker logs "$name" 2>&1 | grep -q 'SAGA_API_TOKEN is unset' || { docker logs "$name" >&2; fail "the refusal does not name SAGA_API_TOKEN"; }
ok "without SAGA_API_TOKEN it refuses to listen on 0.0.0.0"

echo "docker-smoke: passed ($image)"
