#!/usr/bin/env bash
# Synthesizes one environment's manifests with the image tag (and digest, when given), into a folder of its own
# (the committed dist/ is the reviewed snapshot at the package version and is left alone).
#
#   MANIFEST_DIR=/tmp/manifests npm run deploy:synth
#   IMAGE_DIGEST=sha256:<64 hex> npm run deploy:synth      # deploy by digest (CI: the digest push.sh printed)
#
# Writes $MANIFEST_DIR/$DEPLOY_ENVIRONMENT.k8s.yaml (default MANIFEST_DIR: $TMPDIR/pyramidnet-manifests) and checks that
# every container in it runs exactly $DEPLOY_IMAGE (repository:tag, or repository:tag@digest).
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
cd "$REPO_ROOT"

rm -rf "$MANIFEST_DIR"
mkdir -p "$MANIFEST_DIR"
# charts/main.ts reads IMAGE_TAG and IMAGE_DIGEST (exported by image-ref.sh when set).
npm run --silent synth -- --output "$MANIFEST_DIR"

if [ ! -f "$MANIFEST" ]; then
  echo "synth: $MANIFEST was not written (have: $(ls "$MANIFEST_DIR"))" >&2
  exit 1
fi
images=$(node --require ts-node/register/transpile-only scripts/image/manifest.ts images "$MANIFEST")
if [ "$images" != "$DEPLOY_IMAGE" ]; then
  echo "synth: $MANIFEST runs '${images//$'\n'/, }', expected $DEPLOY_IMAGE" >&2
  echo "       (IMAGE_REPOSITORY must match imageRepository of '$DEPLOY_ENVIRONMENT' in charts/environments.ts)" >&2
  exit 1
fi
echo "synthesized $MANIFEST with $DEPLOY_IMAGE"
