#!/usr/bin/env bash
# Builds the image and tags it with the git SHA (see image-ref.sh for the variables).
#
#   npm run image:build [-- <extra docker build flags>]
#
# IMAGE_PLATFORM picks the target (default linux/amd64; linux/arm64 works too: the deps stage prunes native
# binaries to the platform it runs on). The OCI labels get the package version, the commit and its time, so
# two builds of one commit carry the same labels.
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
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

echo "building $IMAGE (${IMAGE_PLATFORM:-linux/amd64}, revision $revision)"
DOCKER_BUILDKIT=1 docker build \
  --platform "${IMAGE_PLATFORM:-linux/amd64}" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$created" \
  --build-arg SOURCE="$source_url" \
  --tag "$IMAGE" \
  "$@" \
  .
echo "built $IMAGE"
