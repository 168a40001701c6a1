#!/usr/bin/env bash
# Builds the image, tags it with the git SHA (see image-ref.sh for the variables) and writes its SBOM beside it.
#
#   npm run image:build [-- <extra docker build flags>]
#
# IMAGE_PLATFORM picks the target (default linux/amd64; linux/arm64 works too: the deps stage prunes native
# binaries to the platform it runs on). The OCI labels get the package version, the commit and its time, so
# two builds of one commit carry the same labels.
# IMAGE_OUTPUT_DIR (default build/image) receives <tag>.cdx.json: a CycloneDX SBOM of the runtime dependencies,
# made by `npm sbom` inside the built image (runtime-sbom.sh), so it lists exactly the node_modules it ships.
# Where no registry is reachable, run scripts/image/local-base-image.sh once first (`bash .ci/run` does).
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
# shellcheck source=scripts/image/docker-cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/docker-cli.sh"
cd "$REPO_ROOT"

revision=$(git rev-parse HEAD)
created=$(git log -1 --format=%cI HEAD)
version=$(node -p 'require("./package.json").version')
if [ -n "${GITHUB_REPOSITORY:-}" ]; then
  source_url="${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY"
else
  # git@host:org/repo.git and https://host/org/repo.git both become https://host/org/repo
  source_url=$(git remote get-url origin 2>/dev/null | sed -E 's#^git@([^:]+):#https://\1/#; s#\.git$##' || true)
fi
output_dir=${IMAGE_OUTPUT_DIR:-build/image}
sbom="$output_dir/$IMAGE_TAG.cdx.json"

echo "building $IMAGE (${IMAGE_PLATFORM:-linux/amd64}, revision $revision) with $DOCKER_CLI"
started=$(date +%s)
"$DOCKER_CLI" build \
  --platform "${IMAGE_PLATFORM:-linux/amd64}" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$created" \
  --build-arg SOURCE="$source_url" \
  --tag "$IMAGE" \
  "$@" \
  .
echo "built $IMAGE in $(( $(date +%s) - started )) s"

# The image's own npm lists the image's own node_modules (runtime-sbom.sh); it needs no network.
mkdir -p "$output_dir"
"$DOCKER_CLI" run --rm -i --network none --read-only --tmpfs /tmp:size=512m --env npm_config_cache=/tmp/npm \
  --entrypoint sh "$IMAGE" -s <scripts/image/runtime-sbom.sh >"$sbom.partial"
mv "$sbom.partial" "$sbom"
echo "sbom $sbom ($(node -p 'require(process.argv[1]).components.length' "$(realpath "$sbom")") components)"
