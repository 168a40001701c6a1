#!/usr/bin/env bash
# Shared by the scripts that call kubectl (deploy.sh, rollback.sh). Source it after image-ref.sh.
#
#   KUBECONFIG_DATA   a kubeconfig's content (CI: the KUBECONFIG secret of the GitHub environment); written to a
#                     private temporary file that is removed on exit. Without it, kubectl uses $KUBECONFIG or
#                     ~/.kube/config.
#
# Exports KUBECONFIG when KUBECONFIG_DATA is set, and sets DELIVERY_TMP: a private folder removed on exit.
# Defines manifest_tool (scripts/image/manifest.ts) and deployment_revision.
set -euo pipefail

DELIVERY_TMP=$(umask 077 && mktemp -d)
trap 'rm -rf "$DELIVERY_TMP"' EXIT
if [ -n "${KUBECONFIG_DATA:-}" ]; then
  (umask 077 && printf '%s\n' "$KUBECONFIG_DATA" >"$DELIVERY_TMP/kubeconfig")
  export KUBECONFIG="$DELIVERY_TMP/kubeconfig"
fi

# Reads a manifest with a YAML parser: images, deployments, ingress-url, split (see manifest.ts).
manifest_tool() {
  node --require ts-node/register/transpile-only "$REPO_ROOT/scripts/image/manifest.ts" "$@"
}

# The revision (deployment.kubernetes.io/revision) a Deployment is at; empty when it does not exist.
deployment_revision() {
  local namespace=$1 name=$2
  kubectl get deployment "$name" --namespace "$namespace" --ignore-not-found \
    -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'
}
