#!/bin/sh
# Builds the sagad image and smoke-tests it where a Docker engine runs: a container with a
# mounted definitions file (and the embedded nats-server) must become healthy (its healthcheck
# asks /readyz), serve the API and the console behind its token, run tini as PID 1 which reaps
# an orphaned nats-server, stop with exit code 0 on SIGTERM, become unhealthy when /readyz
# fails, do the same under an arbitrary uid in group 0 (also on a root-owned volume of group 0,
# as Kubernetes' fsGroup makes it), refuse to start without definitions, and refuse 0.0.0.0
# without a token.
#
# Needs: a Docker engine, and node:22-bookworm-slim from a registry or already loaded
# (`docker load`, or deploy/stand-in-base.sh where no registry is reachable); building needs
# the npm registry and the Debian mirror.
set -eu

usage() {
  cat <<'USAGE'
Usage: deploy/docker-smoke.sh [--image NAME] [--no-build] [--timeout SECONDS] [--network NAME]
                              [--port PORT] [--npm-ca FILE]

  --image NAME       image to build and test (default sagad:smoke)
  --no-build         test an image that is already built
  --timeout SECONDS  how long a container may take to become healthy (default 90)
  --network NAME     network for the build and the containers, e.g. host on an engine
                     started with --bridge=none (default: the engine's default)
  --port PORT        SAGA_HTTP_PORT in the containers (default 8080; with --network host
                     pick one that is free on this machine)
  --npm-ca FILE      a CA certificate (PEM) for npm in the build, for a build behind a
                     TLS-intercepting proxy (passed as --build-arg NPM_EXTRA_CA)

Exit codes: 0 passed, 1 a check failed, 2 usage error, 3 no Docker engine reachable.
USAGE
}

image=sagad:smoke
build=yes
timeout=90
network=""
port=8080
npm_ca=""
while [ $# -gt 0 ]; do
  case "$1" in
    --image) [ $# -ge 2 ] || { echo "docker-smoke: --image needs a name" >&2; exit 2; }; image=$2; shift 2 ;;
    --no-build) build=no; shift ;;
    --timeout)
      [ $# -ge 2 ] || { echo "docker-smoke: --timeout needs a number of seconds" >&2; exit 2; }
      case "$2" in ''|*[!0-9]*) echo "docker-smoke: --timeout needs a number of seconds, not '$2'" >&2; exit 2 ;; esac
      timeout=$2; shift 2 ;;
    --network) [ $# -ge 2 ] || { echo "docker-smoke: --network needs a name" >&2; exit 2; }; network=$2; shift 2 ;;
    --port)
      [ $# -ge 2 ] || { echo "docker-smoke: --port needs a port number" >&2; exit 2; }
      case "$2" in ''|*[!0-9]*) echo "docker-smoke: --port needs a port number, not '$2'" >&2; exit 2 ;; esac
      port=$2; shift 2 ;;
    --npm-ca)
      [ $# -ge 2 ] || { echo "docker-smoke: --npm-ca needs a file" >&2; exit 2; }
      [ -r "$2" ] || { echo "docker-smoke: --npm-ca: cannot read '$2'" >&2; exit 2; }
      npm_ca=$2; shift 2 ;;
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
  if [ -n "$npm_ca" ]; then
    # shellcheck disable=SC2086
    docker build $net --build-arg NPM_EXTRA_CA="$(cat "$npm_ca")" -t "$image" "$root" || fail "docker build"
  else
    # shellcheck disable=SC2086
    docker build $net -t "$image" "$root" || fail "docker build"
  fi
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
  docker run -d $net --name "$name" -e SAGA_API_TOKEN=smoke-token -e SAGA_HTTP_PORT="$port" \
    -v "$work/saga-definitions.yaml:/etc/sagad/saga-definitions.yaml:ro" "$@" "$image" >/dev/null || fail "docker run $name"
}

# GET PATH inside container $1 (with the token when $3 is "token"); prints "STATUS BODY".
get() {
  # shellcheck disable=SC2016
  docker exec -e P="$2" -e T="${3:-}" "$1" node -e '
    const h = process.env.T === "token" ? { authorization: "Bearer smoke-token" } : {};
    fetch(`http://127.0.0.1:${process.env.SAGA_HTTP_PORT}${process.env.P}`, { headers: h })
      .then(async (r) => console.log(r.status, (await r.text()).slice(0, 2000)), (e) => { console.log(0, e.message); });'
}

# The state letter (R, S, Z, ...) and parent of process $2 in container $1, or "gone".
proc() {
  docker exec "$1" sh -c "awk '/^State:/ {s=\$2} /^PPid:/ {p=\$2} END {print s, p}' /proc/$2/status 2>/dev/null || echo gone"
}

# The pid of the first process in container $1 whose name (comm) is $2.
pid_of() {
  docker exec -e W="$2" "$1" sh -c 'for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = "$W" ] && { echo "${p#/proc/}"; exit 0; }; done; exit 1'
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
case "$(get "$c" /v1/definitions token)" in 200*'"smoke"'*) ;; *) fail "GET /v1/definitions with the token does not list the mounted saga smoke" ;; esac
case "$(get "$c" /v1/definitions)" in 401*) ;; *) fail "GET /v1/definitions without the token is not 401" ;; esac
ok "the API answers with the token and refuses without it"
case "$(get "$c" /ui/)" in 200*'<html'*) ;; *) fail "GET /ui/ does not serve the console" ;; esac
ok "the console is served at /ui/"
[ "$(docker exec "$c" cat /proc/1/comm)" = tini ] || fail "PID 1 is not tini"
ok "PID 1 is tini"
# An orphan: kill the embedded nats-server's watchdog, so the server's parent becomes PID 1;
# then kill the server. tini must reap it (with node as PID 1 it stayed a zombie).
nats=$(pid_of "$c" nats-server) || fail "no embedded nats-server running"
watchdog=$(docker exec "$c" awk '/^PPid:/ {print $2}' "/proc/$nats/status")
[ "$watchdog" != 1 ] || fail "the nats-server's parent is already PID 1"
docker exec "$c" sh -c "kill -KILL $watchdog"
waited=0
until [ "$(proc "$c" "$nats" | cut -d' ' -f2)" = 1 ]; do
  waited=$((waited + 1)); [ "$waited" -lt 20 ] || fail "nats-server was not re-parented to PID 1 ($(proc "$c" "$nats"))"; sleep 0.5
done
docker exec "$c" sh -c "kill -KILL $nats"
waited=0
until [ "$(proc "$c" "$nats")" = gone ]; do
  waited=$((waited + 1)); [ "$waited" -lt 20 ] || fail "the orphaned nats-server was not reaped: $(proc "$c" "$nats")"; sleep 0.5
done
ok "an orphaned nats-server is reaped by PID 1"
docker rm -f "$c" >/dev/null

c=sagad-smoke-$$-term
start "$c"
healthy "$c"
docker stop -t 30 "$c" >/dev/null
[ "$(docker inspect --format '{{.State.ExitCode}}' "$c")" = 0 ] || { docker logs "$c" >&2; fail "exit code after SIGTERM is not 0"; }
ok "SIGTERM drains and exits 0"

c=sagad-smoke-$$-uid
start "$c" --user 4242:0
healthy "$c"
ok "an arbitrary uid in group 0 can write /data"
docker rm -f "$c" >/dev/null

# A volume as Kubernetes mounts it with fsGroup 0: owned by root, group 0 writable, setgid.
mkdir -p "$work/volume"
chown 0:0 "$work/volume" 2>/dev/null || true
chmod 2770 "$work/volume"
c=sagad-smoke-$$-volume
start "$c" --user 4242:0 -v "$work/volume:/data"
healthy "$c"
docker exec "$c" test -s /data/sagad.db || fail "no database written to the mounted volume"
ok "an arbitrary uid in group 0 can write a root-owned volume of group 0"
docker rm -f "$c" >/dev/null

# Unhealthy when /readyz is not 200: a sagad whose NATS goes away. The image's own
# nats-server runs in a container of its own; sagad shares its network namespace.
n=sagad-smoke-$$-nats
containers="$containers $n"
nats_port=$((port + 1))
# shellcheck disable=SC2086
docker run -d $net --name "$n" --entrypoint nats-server "$image" -js -a 127.0.0.1 -p "$nats_port" -sd /tmp/js >/dev/null || fail "docker run $n"
c=sagad-smoke-$$-lost
containers="$containers $c"
docker run -d --network "container:$n" --name "$c" -e SAGA_API_TOKEN=smoke-token -e SAGA_HTTP_PORT="$port" \
  -e NATS_URL="nats://127.0.0.1:$nats_port" -v "$work/saga-definitions.yaml:/etc/sagad/saga-definitions.yaml:ro" "$image" >/dev/null || fail "docker run $c"
healthy "$c"
docker stop -t 5 "$n" >/dev/null
waited=0
until [ "$(docker inspect --format '{{.State.Health.Status}}' "$c")" = unhealthy ]; do
  [ "$(docker inspect --format '{{.State.Running}}' "$c")" = true ] || { docker logs "$c" >&2 || true; fail "$c exited when NATS went away"; }
  waited=$((waited + 1)); [ "$waited" -lt "$timeout" ] || fail "still healthy $timeout s after NATS went away"
  sleep 1
done
case "$(get "$c" /healthz)" in 200*) ;; *) fail "/healthz is not 200 while NATS is away (liveness must not restart it)" ;; esac
ok "NATS gone: unhealthy (the healthcheck follows /readyz) while /healthz stays 200"
docker rm -f "$c" "$n" >/dev/null

name=sagad-smoke-$$-nodefs
containers="$containers $name"
docker run $net --name "$name" -e SAGA_API_TOKEN=smoke-token -e SAGA_HTTP_PORT="$port" "$image" >/dev/null 2>&1 && fail "started without a definitions file"
docker logs "$name" 2>&1 | grep -q 'mount it' || { docker logs "$name" >&2; fail "the refusal does not say how to mount definitions"; }
ok "without definitions it refuses, saying how to mount them"

name=sagad-smoke-$$-notoken
containers="$containers $name"
docker run $net --name "$name" -e SAGA_HTTP_PORT="$port" -v "$work/saga-definitions.yaml:/etc/sagad/saga-definitions.yaml:ro" "$image" >/dev/null 2>&1 && fail "listened on 0.0.0.0 without a token"
docker logs "$name" 2>&1 | grep -q 'SAGA_API_TOKEN is unset' || { docker logs "$name" >&2; fail "the refusal does not name SAGA_API_TOKEN"; }
ok "without SAGA_API_TOKEN it refuses to listen on 0.0.0.0"

echo "docker-smoke: passed ($image)"
