#!/usr/bin/env bash
# Synthesizes one environment's manifests with the image tag, into a folder of its own (the committed dist/ is
# the reviewed snapshot at the package version and is left alone).
#
#   MANIFEST_DIR=/tmp/manifests npm run deploy:synth
#
# Writes $MANIFEST_DIR/$DEPLOY_ENVIRONMENT.k8s.yaml (default MANIFEST_DIR: $TMPDIR/pyramidnet-manifests) and checks that
# its Deployment runs exactly $IMAGE.
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
cd "$REPO_ROOT"

out="${MANIFEST_DIR:-${TMPDIR:-/tmp}/pyramidnet-manifests}"
rm -rf "$out"
mkdir -p "$out"
IMAGE_TAG="$IMAGE_TAG" npm run --silent synth -- --output "$out"

manifest="$out/$DEPLOY_ENVIRONMENT.k8s.yaml"
if [ ! -f "$manifest" ]; then
  echo "synth: $manifest was not written (have: $(ls "$out"))" >&2
  exit 1
fi
images=$(grep -E '^\s+image:' "$manifest" | awk '{print $2}' | sort -u)
if [ "$images" != "$IMAGE" ]; then
  echo "synth: $manifest runs '${images//$'\n'/, }', expected $IMAGE" >&2
  echo "       (IMAGE_REPOSITORY must match imageRepository of '$DEPLOY_ENVIRONMENT' in charts/environments.ts)" >&2
  exit 1
fi
echo "synthesized $manifest with $IMAGE"
