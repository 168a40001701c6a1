#!/bin/sh
# Runs inside the built image (build.sh pipes it to `docker run -i <image> sh -s`) and prints a CycloneDX SBOM
# of exactly the node_modules the image ships, as `npm sbom` of the image's own npm sees them.
#
# Two detours, both because the image holds package.json but only the production tree: npm sbom --omit dev
# still reports every devDependency as missing (ESBOMPROBLEMS), so it reads a copy of package.json without
# them; and it misreads a symlinked node_modules, so the tree is copied to /tmp (a tmpfs; about 100 MB).
set -eu
name=$(node -p 'require("/app/package.json").name')
work="/tmp/$name"
mkdir -p "$work"
node -e '
  const manifest = require("/app/package.json");
  delete manifest.devDependencies;
  process.stdout.write(JSON.stringify(manifest, null, 2));
' >"$work/package.json"
cp -R /app/node_modules "$work/node_modules"
cd "$work"
npm sbom --sbom-format cyclonedx --omit dev --sbom-type application
