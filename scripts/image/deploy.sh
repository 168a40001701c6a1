#!/usr/bin/env bash
# Applies the manifests synth.sh wrote and waits for the rollout.
#
#   npm run deploy:apply            (after npm run deploy:synth)
#   npm run deploy                  (both)
#
#   KUBECONFIG_DATA   a kubeconfig's content (CI: the KUBECONFIG secret); written to a private temporary file.
#                     Without it, kubectl uses $KUBECONFIG or ~/.kube/config.
#   DRY_RUN=1         server-side dry run: the API server validates and admits, nothing changes.
#   ROLLOUT_TIMEOUT   how long to wait for each Deployment (default 10m).
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
cd "$REPO_ROOT"

manifest="${MANIFEST_DIR:-${TMPDIR:-/tmp}/pyramidnet-manifests}/$DEPLOY_ENVIRONMENT.k8s.yaml"
[ -f "$manifest" ] || { echo "deploy: $manifest is missing; run npm run deploy:synth first" >&2; exit 1; }
case "$IMAGE_TAG" in
  *-dirty) echo "deploy: refusing to deploy $IMAGE, built from uncommitted changes" >&2; exit 1 ;;
esac
grep -qE "^\s+image: ${IMAGE//./\\.}\$" "$manifest" || { echo "deploy: $manifest does not run $IMAGE" >&2; exit 1; }

if [ -n "${KUBECONFIG_DATA:-}" ]; then
  kubeconfig=$(umask 077 && mktemp)
  trap 'rm -f "$kubeconfig"' EXIT
  printf '%s\n' "$KUBECONFIG_DATA" >"$kubeconfig"
  export KUBECONFIG="$kubeconfig"
fi

dry_run=()
if [ "${DRY_RUN:-0}" = 1 ]; then dry_run=(--dry-run=server); fi

echo "deploying $IMAGE to $(kubectl config current-context) from $manifest"
# For the log only: diff exits 1 when there are differences, and fails outright on a first deploy (no namespace yet).
kubectl diff --server-side --field-manager=pyramidnet-deploy -f "$manifest" || true
# Server-side apply; the repository is the source of truth, so CI takes over fields someone edited by hand.
kubectl apply --server-side --force-conflicts --field-manager=pyramidnet-deploy "${dry_run[@]}" -f "$manifest"
if [ "${#dry_run[@]}" -gt 0 ]; then exit 0; fi

# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const YAML = require("yaml");
  const text = require("node:fs").readFileSync(process.argv[1], "utf8");
  for (const doc of YAML.parseAllDocuments(text)) {
    const o = doc.toJS();
    if (o && o.kind === "Deployment") console.log(`${o.metadata.namespace ?? "default"} ${o.metadata.name}`);
  }
' "$manifest" | while read -r namespace name; do
  kubectl rollout status "deployment/$name" --namespace "$namespace" --timeout "${ROLLOUT_TIMEOUT:-10m}"
done
echo "deployed $IMAGE"
