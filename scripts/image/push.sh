#!/usr/bin/env bash
# Pushes the image built by build.sh. Log in first (CI: docker/login-action with the registry secrets).
#
#   npm run image:push
#
# Prints the pushed digest, and writes it to $GITHUB_OUTPUT as `digest` in GitHub Actions.
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"

case "$IMAGE_TAG" in
  *-dirty) echo "push: refusing to push $IMAGE, built from uncommitted changes" >&2; exit 1 ;;
esac
docker push "$IMAGE"
digest=$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE" | grep -F "$IMAGE_REPOSITORY@" | head -n 1 | cut -d@ -f2)
echo "pushed $IMAGE ($digest)"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "digest=$digest" >>"$GITHUB_OUTPUT"; fi
