#!/usr/bin/env bash
# The image reference and manifest location every delivery script uses. Source it (`. scripts/image/image-ref.sh`)
# or run it to print the values (and append them to $GITHUB_OUTPUT in GitHub Actions).
#
#   DEPLOY_ENVIRONMENT  the chart environment (charts/environments.ts) to build for and deploy to
#                       (default: production)
#   IMAGE_REPOSITORY    registry/path without a tag (default: that environment's imageRepository, so the image
#                       pushed is the one the synthesized Deployment pulls)
#   IMAGE_TAG           the tag (default: the full git SHA of HEAD, suffixed -dirty when the work tree has
#                       uncommitted changes; CI passes ${{ github.sha }})
#   IMAGE_DIGEST        the pushed image's digest, sha256:<64 hex> (push.sh prints it; CI passes it on). When set,
#                       the Deployment must run repository:tag@digest. Set but malformed: refused here.
#   REQUIRE_IMAGE_DIGEST=1  refuse to go on without IMAGE_DIGEST (CI's deploy jobs: deploy only by digest)
#   MANIFEST_DIR        where synth.sh writes and deploy.sh reads the manifests (default $TMPDIR/pyramidnet-manifests)
#
# Exports DEPLOY_ENVIRONMENT, IMAGE_REPOSITORY, IMAGE_TAG, IMAGE (repository:tag), IMAGE_REGISTRY (the host part,
# for docker login), DEPLOY_IMAGE (the exact `image:` the Deployment must run: IMAGE, or IMAGE@IMAGE_DIGEST, as
# infra/image.ts renders it), MANIFEST_DIR, MANIFEST ($MANIFEST_DIR/$DEPLOY_ENVIRONMENT.k8s.yaml) and
# REVISIONS_FILE ($MANIFEST_DIR/$DEPLOY_ENVIRONMENT.revisions: the Deployments' revisions before deploy.sh applied).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Prints the repository (IMAGE_REPOSITORY, or the environment's imageRepository) and then the reference the
# construct renders from it, the tag and the digest: infra/image.ts is the one definition of a valid reference.
# shellcheck disable=SC2016 # the -e argument is JavaScript
resolve_image() {
  (cd "$REPO_ROOT" && node --require ts-node/register/transpile-only -e '
    const { ENVIRONMENTS } = require("./charts/environments");
    const { renderImage } = require("./infra/image");
    const [environment, repositoryOverride, tag, digestSet, digest] = process.argv.slice(1);
    let repository = repositoryOverride;
    if (repository === "") {
      const spec = ENVIRONMENTS[environment];
      if (!spec) {
        console.error(`image-ref: no environment "${environment}" in charts/environments.ts (have: ${Object.keys(ENVIRONMENTS).join(", ")})`);
        process.exit(1);
      }
      repository = spec.imageRepository;
    }
    try {
      const rendered = renderImage({ repository, tag, digest: digestSet === "set" ? digest : undefined });
      console.log(`${repository}\n${rendered}`);
    } catch (error) {
      console.error(`image-ref: ${error.message}`);
      process.exit(1);
    }
  ' "$1" "$2" "$3" "$4" "$5")
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
export IMAGE_TAG="${IMAGE_TAG:-$(git_tag)}"
if [ "${REQUIRE_IMAGE_DIGEST:-0}" = 1 ] && [ -z "${IMAGE_DIGEST+set}" ]; then
  echo "image-ref: REQUIRE_IMAGE_DIGEST=1 but IMAGE_DIGEST is not set: deploy only what was pushed, by digest" >&2
  exit 1
fi
resolved=$(resolve_image "$DEPLOY_ENVIRONMENT" "${IMAGE_REPOSITORY:-}" "$IMAGE_TAG" "${IMAGE_DIGEST+set}" "${IMAGE_DIGEST:-}")
IMAGE_REPOSITORY=${resolved%%$'\n'*}
export IMAGE_REPOSITORY
export IMAGE="$IMAGE_REPOSITORY:$IMAGE_TAG"
export DEPLOY_IMAGE=${resolved#*$'\n'}
if [ -n "${IMAGE_DIGEST+set}" ]; then export IMAGE_DIGEST; fi
export MANIFEST_DIR="${MANIFEST_DIR:-${TMPDIR:-/tmp}/pyramidnet-manifests}"
export MANIFEST="$MANIFEST_DIR/$DEPLOY_ENVIRONMENT.k8s.yaml"
export REVISIONS_FILE="$MANIFEST_DIR/$DEPLOY_ENVIRONMENT.revisions"
# A first path component with a dot or colon (or localhost) is a registry host; otherwise Docker Hub.
first=${IMAGE_REPOSITORY%%/*}
if [ "$first" != "$IMAGE_REPOSITORY" ] && { [[ "$first" == *.* ]] || [[ "$first" == *:* ]] || [ "$first" = localhost ]; }; then
  export IMAGE_REGISTRY="$first"
else
  export IMAGE_REGISTRY="docker.io"
fi

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  keys=(DEPLOY_ENVIRONMENT IMAGE_REPOSITORY IMAGE_TAG IMAGE IMAGE_REGISTRY DEPLOY_IMAGE)
  if [ -n "${IMAGE_DIGEST+set}" ]; then keys+=(IMAGE_DIGEST); fi
  for key in "${keys[@]}"; do
    line="$(echo "$key" | tr '[:upper:]' '[:lower:]')=${!key}"
    echo "$line"
    if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$line" >>"$GITHUB_OUTPUT"; fi
  done
fi
