#!/usr/bin/env bash
# The image reference every delivery script uses. Source it (`. scripts/image/image-ref.sh`) or run it to print
# the values (and append them to $GITHUB_OUTPUT in GitHub Actions).
#
#   DEPLOY_ENVIRONMENT  the chart environment (charts/environments.ts) to build for and deploy to
#                       (default: production)
#   IMAGE_REPOSITORY    registry/path without a tag (default: that environment's imageRepository, so the image
#                       pushed is the one the synthesized Deployment pulls)
#   IMAGE_TAG           the tag (default: the full git SHA of HEAD, suffixed -dirty when the work tree has
#                       uncommitted changes; CI passes ${{ github.sha }})
#
# Exports DEPLOY_ENVIRONMENT, IMAGE_REPOSITORY, IMAGE_TAG, IMAGE (repository:tag) and IMAGE_REGISTRY (the host
# part, for docker login).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# shellcheck disable=SC2016 # the -e argument is JavaScript
chart_image_repository() {
  (cd "$REPO_ROOT" && node --require ts-node/register/transpile-only -e '
    const { ENVIRONMENTS } = require("./charts/environments");
    const spec = ENVIRONMENTS[process.argv[1]];
    if (!spec) {
      console.error(`image-ref: no environment "${process.argv[1]}" in charts/environments.ts (have: ${Object.keys(ENVIRONMENTS).join(", ")})`);
      process.exit(1);
    }
    console.log(spec.imageRepository);
  ' "$1")
}

git_tag() {
  local sha
  sha=$(git -C "$REPO_ROOT" rev-parse HEAD)
  if [ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no)" ]; then
    echo "$sha-dirty"
  else
    echo "$sha"
  fi
}

export DEPLOY_ENVIRONMENT="${DEPLOY_ENVIRONMENT:-production}"
if [ -z "${IMAGE_REPOSITORY:-}" ]; then
  IMAGE_REPOSITORY=$(chart_image_repository "$DEPLOY_ENVIRONMENT")
fi
export IMAGE_REPOSITORY
export IMAGE_TAG="${IMAGE_TAG:-$(git_tag)}"
export IMAGE="$IMAGE_REPOSITORY:$IMAGE_TAG"
# A first path component with a dot or colon (or localhost) is a registry host; otherwise Docker Hub.
first=${IMAGE_REPOSITORY%%/*}
if [ "$first" != "$IMAGE_REPOSITORY" ] && { [[ "$first" == *.* ]] || [[ "$first" == *:* ]] || [ "$first" = localhost ]; }; then
  export IMAGE_REGISTRY="$first"
else
  export IMAGE_REGISTRY="docker.io"
fi

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  for key in DEPLOY_ENVIRONMENT IMAGE_REPOSITORY IMAGE_TAG IMAGE IMAGE_REGISTRY; do
    line="$(echo "$key" | tr '[:upper:]' '[:lower:]')=${!key}"
    echo "$line"
    if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$line" >>"$GITHUB_OUTPUT"; fi
  done
fi
