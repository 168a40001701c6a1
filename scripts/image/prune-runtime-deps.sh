#!/bin/sh
# Deletes what a Linux glibc container of one CPU architecture never loads from a production node_modules.
#
#   sh scripts/image/prune-runtime-deps.sh <node_modules> [arch]
#
# arch is Node's process.arch (x64, arm64) and defaults to the running node's, so inside `docker build
# --platform linux/arm64` it keeps the arm64 binaries. Used by the Dockerfile's deps stage.
#
# onnxruntime-node bundles ONNX Runtime for every platform (about 290 MB); the container needs one directory.
# sharp's prebuilt libvips comes as per-platform optional packages (@img/sharp-<platform>); npm skips most by
# os/cpu, but an npm that ignores the "libc" field also installs the musl builds. Source maps of bundled
# browser assets (swagger-ui-dist ships 8 MB of them) are never read at runtime.
set -eu

modules=${1:?usage: prune-runtime-deps.sh <node_modules dir> [arch]}
arch=${2:-$(node -p process.arch)}
platform="linux-$arch"

[ -d "$modules" ] || { echo "prune-runtime-deps: $modules is not a directory" >&2; exit 1; }

ort="$modules/onnxruntime-node/bin"
if [ -d "$ort" ]; then
  # Layout: bin/napi-v<N>/<os>/<arch>/{onnxruntime_binding.node,libonnxruntime.so.1,...}
  for os_dir in "$ort"/napi-v*/*; do
    [ -d "$os_dir" ] || continue
    if [ "$(basename "$os_dir")" != linux ]; then
      rm -rf "$os_dir"
      continue
    fi
    for arch_dir in "$os_dir"/*; do
      [ "$(basename "$arch_dir")" = "$arch" ] || rm -rf "$arch_dir"
    done
  done
  # Fail the build here rather than at the first request if the layout changed upstream.
  set -- "$ort"/napi-v*/linux/"$arch"/onnxruntime_binding.node
  [ -f "$1" ] || { echo "prune-runtime-deps: no ONNX Runtime binding for linux/$arch under $ort" >&2; exit 1; }
fi

img="$modules/@img"
if [ -d "$img" ]; then
  for pkg in "$img"/sharp-*; do
    [ -d "$pkg" ] || continue
    case "$(basename "$pkg")" in
      "sharp-$platform" | "sharp-libvips-$platform") ;;
      *) rm -rf "$pkg" ;;
    esac
  done
  [ -d "$img/sharp-$platform" ] || { echo "prune-runtime-deps: @img/sharp-$platform is missing" >&2; exit 1; }
fi

find "$modules" -type f -name '*.map' -delete
