#!/usr/bin/env bash
# Smoke-tests a deployed environment through its Ingress: waits until the readiness endpoint answers 200, then
# classifies one committed fixture image and checks the label. Every wait is bounded in count and in time.
#
# Readiness is asked at /v2/health/ready (the Open Inference Protocol's, the same readiness as /health/ready):
# the Ingress routes only the public paths, so /health/* and /metrics answer the controller's 404 from outside.
#
#   npm run deploy:smoke            (after npm run deploy:apply)
#
#   SMOKE_BASE_URL       where to send the requests (default: the Ingress host of $MANIFEST, https when its TLS
#                        covers the host)
#   SMOKE_READY_PATH     the readiness endpoint (default /v2/health/ready)
#   SMOKE_IMAGE          the image to classify (default: __tests__/fixtures/cifar10/ship/0001.jpg)
#   SMOKE_LABEL          the label it must get (default: the image's folder name, the CIFAR-10 class)
#   SMOKE_ATTEMPTS       how many times to try each request (default 30)
#   SMOKE_INTERVAL_S     seconds between tries (default 5)
#   SMOKE_DEADLINE_S     seconds for the whole smoke test, all tries together (default 180)
#   SMOKE_TIMEOUT_S      seconds for one request (default 10)
set -euo pipefail
# shellcheck source=scripts/image/image-ref.sh
. "$(dirname "${BASH_SOURCE[0]}")/image-ref.sh"
cd "$REPO_ROOT"

ready_path=${SMOKE_READY_PATH:-/v2/health/ready}
image=${SMOKE_IMAGE:-__tests__/fixtures/cifar10/ship/0001.jpg}
label=${SMOKE_LABEL:-$(basename "$(dirname "$image")")}
attempts=${SMOKE_ATTEMPTS:-30}
interval=${SMOKE_INTERVAL_S:-5}
deadline=$((SECONDS + ${SMOKE_DEADLINE_S:-180}))
request_timeout=${SMOKE_TIMEOUT_S:-10}
[ -f "$image" ] || { echo "smoke: $image does not exist" >&2; exit 1; }
if [ -n "${SMOKE_BASE_URL:-}" ]; then
  base_url=${SMOKE_BASE_URL%/}
else
  [ -f "$MANIFEST" ] || { echo "smoke: $MANIFEST is missing; set SMOKE_BASE_URL or run npm run deploy:synth" >&2; exit 1; }
  base_url=$(node --require ts-node/register/transpile-only scripts/image/manifest.ts ingress-url "$MANIFEST" "$ready_path" /predict)
fi

body="$(mktemp)"
trap 'rm -f "$body"' EXIT

# Tries `curl ARGS` until it answers HTTP 200, at most $attempts times and never past the deadline.
# Leaves the last response body in $body.
until_ok() {
  local what=$1 try status
  shift
  for ((try = 1; try <= attempts; try++)); do
    status=$(curl --silent --show-error --output "$body" --write-out '%{http_code}' --max-time "$request_timeout" "$@" || true)
    if [ "$status" = 200 ]; then
      echo "smoke: $what: 200 (try $try)"
      return 0
    fi
    echo "smoke: $what: ${status:-no answer} (try $try of $attempts)"
    if ((try == attempts)) || ((SECONDS + interval > deadline)); then break; fi
    sleep "$interval"
  done
  echo "smoke: $what did not answer 200 after $try tries in ${SECONDS}s" >&2
  return 1
}

until_ok "GET $base_url$ready_path" "$base_url$ready_path"
until_ok "POST $base_url/predict ($image)" -F "file=@$image" "$base_url/predict"
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const [file, expected] = process.argv.slice(1);
  const answer = JSON.parse(require("node:fs").readFileSync(file, "utf8"));
  const got = answer?.prediction?.label;
  if (got !== expected) {
    console.error(`smoke: expected the label ${expected}, got ${JSON.stringify(got)} in ${JSON.stringify(answer)}`);
    process.exit(1);
  }
  console.log(`smoke: classified as ${got} (confidence ${answer.prediction.confidence}) by ${answer.model?.name} ${answer.model?.version}`);
' "$body" "$label"
echo "smoke test of $base_url passed"
