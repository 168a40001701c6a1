#!/usr/bin/env bash
# Returns each Deployment deploy.sh applied to the revision it had before (CI: when the rollout or the smoke test
# fails), and waits for that rollout.
#
#   npm run deploy:rollback
#
# Reads $REVISIONS_FILE, written by deploy.sh just before it applied. A Deployment still at its recorded revision
# was not changed (the apply failed earlier, or changed nothing in the pod template) and is left alone: a bare
# `kubectl rollout undo` would then go one revision too far back, to the release before the running one.
# `rollout undo` restores the pod template (image, environment, checksum annotation), not the ConfigMap.
#
#   KUBECONFIG_DATA   as for deploy.sh (see kube.sh)
#   ROLLOUT_TIMEOUT   how long to wait for each Deployment (default 10m)
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
# shellcheck source=scripts/image/kube.sh
. "$(dirname "${BASH_SOURCE[0]}")/kube.sh"

if [ ! -f "$REVISIONS_FILE" ]; then
  echo "rollback: no $REVISIONS_FILE: deploy.sh stopped before applying any Deployment; nothing to undo"
  exit 0
fi

failed=()
# After an undo the restored template has a new revision number; recording it makes a second run a no-op.
recorded=()
while read -r namespace name previous <&3; do
  [ -n "$name" ] || continue
  current=$(deployment_revision "$namespace" "$name")
  if [ "$previous" = - ]; then
    echo "rollback: deployment $namespace/$name did not exist before this deploy; there is no revision to return to" \
      "(kubectl --namespace $namespace delete deployment $name removes it)"
  elif [ "$current" = "$previous" ]; then
    echo "rollback: deployment $namespace/$name is still at revision $previous; nothing to undo"
  else
    echo "rollback: deployment $namespace/$name is at revision ${current:-none}; returning to revision $previous"
    if kubectl rollout undo "deployment/$name" --namespace "$namespace" --to-revision "$previous" &&
      kubectl rollout status "deployment/$name" --namespace "$namespace" --timeout "${ROLLOUT_TIMEOUT:-10m}"; then
      previous=$(deployment_revision "$namespace" "$name")
    else
      failed+=("$namespace/$name")
    fi
  fi
  recorded+=("$namespace $name $previous")
done 3<"$REVISIONS_FILE"
printf '%s\n' "${recorded[@]}" >"$REVISIONS_FILE"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "rollback: could not return ${failed[*]} to its previous revision" >&2
  exit 1
fi
