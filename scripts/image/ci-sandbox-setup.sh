#!/usr/bin/env bash
# Prepares a CI runner for __tests__/container/pod-parity.test.ts: installs bubblewrap and allows the
# unprivileged user namespaces it needs (Ubuntu 24.04 restricts them with AppArmor).
set -euo pipefail
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

if ! command -v bwrap >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends bubblewrap
fi
if [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then
  $sudo sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0
fi
if [ -e /proc/sys/kernel/unprivileged_userns_clone ]; then
  $sudo sysctl -q -w kernel.unprivileged_userns_clone=1
fi
bwrap --ro-bind / / --unshare-user --uid 1000 --gid 1000 --unshare-pid --proc /proc --dev /dev true
echo "bubblewrap $(bwrap --version | awk '{print $2}') can sandbox as uid 1000"
