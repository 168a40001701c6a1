#!/usr/bin/env bash
# Applies the manifest synth.sh wrote, Namespaces first, then everything inside them, and waits for each rollout.
#
#   npm run deploy:apply            (after npm run deploy:synth)
#   npm run deploy                  (both)
#
#   KUBECONFIG_DATA   a kubeconfig's content (see kube.sh). Without it, kubectl uses $KUBECONFIG or ~/.kube/config.
#   DRY_RUN=1         server-side dry run: the API server validates and admits, nothing changes, with one
#                     exception: a Namespace the cluster does not have yet is created (empty), because the server
#                     refuses every object of a missing namespace (`namespaces "…" not found`), dry run or not.
#   ROLLOUT_TIMEOUT   how long to wait for each Deployment (default 10m).
#
# Before applying, records each Deployment's revision in $REVISIONS_FILE; rollback.sh returns to it.
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
# shellcheck source=scripts/image/kube.sh
. "$(dirname "${BASH_SOURCE[0]}")/kube.sh"
cd "$REPO_ROOT"

[ -f "$MANIFEST" ] || { echo "deploy: $MANIFEST is missing; run npm run deploy:synth first" >&2; exit 1; }
case "$IMAGE_TAG" in
  *-dirty) echo "deploy: refusing to deploy $IMAGE, built from uncommitted changes" >&2; exit 1 ;;
esac
images=$(manifest_tool images "$MANIFEST")
if [ "$images" != "$DEPLOY_IMAGE" ]; then
  echo "deploy: $MANIFEST runs '${images//$'\n'/, }', not exactly $DEPLOY_IMAGE; synthesize again" >&2
  exit 1
fi

dry_run=()
if [ "${DRY_RUN:-0}" = 1 ]; then dry_run=(--dry-run=server); fi
# Server-side apply; the repository is the source of truth, so CI takes over fields someone edited by hand.
apply() { kubectl apply --server-side --force-conflicts --field-manager=pyramidnet-deploy "$@"; }

namespaces_file="$DELIVERY_TMP/namespaces.yaml"
objects_file="$DELIVERY_TMP/objects.yaml"
namespace_list=$(manifest_tool split "$MANIFEST" "$namespaces_file" "$objects_file")
namespaces=()
if [ -n "$namespace_list" ]; then mapfile -t namespaces <<<"$namespace_list"; fi

echo "deploying $DEPLOY_IMAGE to $(kubectl config current-context) from $MANIFEST${dry_run:+ (server-side dry run)}"
if [ "${#namespaces[@]}" -gt 0 ]; then
  namespace_dry_run=("${dry_run[@]}")
  if [ "${#dry_run[@]}" -gt 0 ]; then
    missing=()
    for namespace in "${namespaces[@]}"; do
      if [ -z "$(kubectl get namespace "$namespace" --ignore-not-found -o name)" ]; then missing+=("$namespace"); fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
      echo "deploy: dry run: creating the missing namespace(s) ${missing[*]} for real, or the server refuses everything in them"
      namespace_dry_run=()
    fi
  fi
  apply "${namespace_dry_run[@]}" -f "$namespaces_file"
fi

# For the log only: diff exits 1 when there are differences.
kubectl diff --server-side --field-manager=pyramidnet-deploy -f "$objects_file" || true

if [ "${#dry_run[@]}" -eq 0 ]; then
  deployments=$(manifest_tool deployments "$MANIFEST")
  : >"$REVISIONS_FILE"
  while read -r namespace name <&3; do
    [ -n "$name" ] || continue
    revision=$(deployment_revision "$namespace" "$name")
    echo "$namespace $name ${revision:--}" >>"$REVISIONS_FILE"
  done 3<<<"$deployments"
fi
apply "${dry_run[@]}" -f "$objects_file"
if [ "${#dry_run[@]}" -gt 0 ]; then
  echo "dry run of $DEPLOY_IMAGE admitted"
  exit 0
fi

failed=()
while read -r namespace name _ <&3; do
  if ! kubectl rollout status "deployment/$name" --namespace "$namespace" --timeout "${ROLLOUT_TIMEOUT:-10m}"; then
    failed+=("$namespace/$name")
  fi
done 3<"$REVISIONS_FILE"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "deploy: the rollout of ${failed[*]} did not complete; npm run deploy:rollback returns to the previous revision" >&2
  exit 1
fi
echo "deployed $DEPLOY_IMAGE"
