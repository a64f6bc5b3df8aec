#!/usr/bin/env bash
# Build Tessera, write the built-in demo data set, and serve it on 127.0.0.1:8080.
# Works from a clean clone: installs missing Debian packages when run as root.
# Before serving it prints one working example per endpoint against the demo data, with
# curl and with the Python client's one-liner (clients/python).
# Environment: PORT (default 8080), DEMO_DIR (default ./demo-data).
# `scripts/run-demo.sh --examples` only prints the examples (the python_client ctest runs
# every one of them against a real server).
set -euo pipefail
cd "$(dirname "$0")/.."

demo=${DEMO_DIR:-$PWD/demo-data}
port=${PORT:-8080}

# The examples for a server at $1 serving the demo data in $2. Each command is one line
# starting with two spaces; the one that shows an error answer names nope.tif.
examples() {
  local url=$1 data=$2
  local py="PYTHONPATH=$PWD/clients/python /usr/bin/python3 -m tessera_client $url"
  cat <<MSG
Liveness and readiness (never need the token):
  curl -s $url/healthz
  curl -s $url/readyz
  $py health
  $py ready
Image files of a directory tree, classified in the same pass (GET /scan; POST takes JSON):
  curl -s '$url/scan?dir=cyc1&recursive=true&classify=true'
  curl -s -X POST -H 'Content-Type: application/json' -d '{"recursive": true}' $url/scan
  $py scan cyc1 --recursive --classify
What a file is and which reader opens it (GET one path; POST a batch, in order):
  curl -s '$url/classify?path=slides/pyramid.ome.tif'
  curl -s -X POST -H 'Content-Type: application/json' -d '{"paths": ["cyc1/stack.ome.tif", "plate.zarr", "missing.tif"]}' $url/classify
  $py classify slides/pyramid.ome.tif plate.zarr
Overlap of two label images: IoU and matching (paths under the root, or uploads):
  curl -s -X POST -H 'Content-Type: application/json' -d '{"a": "labels/truth.tif", "b": "labels/predicted.tif", "match_threshold": 0.5}' $url/overlap
  curl -s -F "a=@$data/labels/truth.tif" -F "b=@$data/labels/predicted.tif" -F 'options={"match_threshold": 0.7}' $url/overlap
  $py overlap labels/truth.tif labels/predicted.tif --threshold 0.5
  $py overlap "$data/labels/truth.tif" "$data/labels/predicted.tif" --upload --threshold 0.7
Top-k of a list (NaN as null), k nearest neighbours of points:
  curl -s -X POST -H 'Content-Type: application/json' -d '{"values": [3, 1, null, 1, 2], "k": 3}' $url/topk
  curl -s -X POST -H 'Content-Type: application/json' -d '{"points": [[0, 0], [1, 0], [5, 5], [1, 1]], "k": 2}' $url/topk
  $py topk 3 3 1 nan 1 2
Prometheus metrics and the OpenAPI contract:
  curl -s $url/metrics | grep tessera_requests_total
  $py metrics tessera_classify_cache_hits_total
  curl -s $url/openapi.yaml | head -n 3
  $py openapi | head -n 3
Every error is application/problem+json with a request id:
  curl -si '$url/classify?path=nope.tif'
In a browser: $url/ (a form per endpoint) and $url/docs (Swagger UI).
MSG
  if ! /usr/bin/python3 -c 'import numpy, requests' 2>/dev/null; then
    echo "(the tessera_client lines need: apt-get install python3-numpy python3-requests)"
  fi
}

if [ "${1:-}" = "--examples" ]; then
  examples "http://127.0.0.1:$port" "$demo"
  exit 0
fi

scripts/deps.sh run
cmake -S . -B build/run -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_TESTS=OFF >/dev/null
cmake --build build/run --target tessera -j"$(nproc)" >/dev/null
build/run/tessera make-demo "$demo"

echo "Tessera is starting on http://127.0.0.1:$port/ serving $demo"
echo "Try, from another terminal:"
examples "http://127.0.0.1:$port" "$demo"
echo "Stop with Ctrl-C (drains in-flight requests, exits 0)."
exec build/run/tessera --root "$demo" --host 127.0.0.1 --port "$port"
