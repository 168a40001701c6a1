#!/usr/bin/env bash
# Pushes the image built by build.sh. Log in first (CI: docker/login-action with the registry secrets).
#
#   npm run image:push
#
# Prints the pushed digest, and writes it to $GITHUB_OUTPUT as `digest` in GitHub Actions: the deploy jobs pass it
# to synth.sh as IMAGE_DIGEST, so the cluster runs exactly these bytes. No digest, or a malformed one: exit 1.
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"

case "$IMAGE_TAG" in
  *-dirty) echo "push: refusing to push $IMAGE, built from uncommitted changes" >&2; exit 1 ;;
esac
docker push "$IMAGE"
digest=$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE" | grep -F "$IMAGE_REPOSITORY@" | head -n 1 | cut -d@ -f2 || true)
if [ -z "$digest" ]; then
  echo "push: docker reports no digest of $IMAGE in $IMAGE_REPOSITORY; refusing to hand on a tag alone" >&2
  exit 1
fi
# The construct's own check of the digest's form (infra/image.ts), through image-ref.sh.
IMAGE_DIGEST="$digest" GITHUB_OUTPUT="" bash "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh" >/dev/null
echo "pushed $IMAGE ($digest)"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "digest=$digest" >>"$GITHUB_OUTPUT"; fi
