#!/usr/bin/env bash
# Build Tessera, write the built-in demo data set, and serve it on 127.0.0.1:8080.
# Works from a clean clone: installs missing Debian packages when run as root.
# Environment: PORT (default 8080), DEMO_DIR (default ./demo-data).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh run
cmake -S . -B build/run -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_TESTS=OFF >/dev/null
cmake --build build/run --target tessera -j"$(nproc)" >/dev/null
demo=${DEMO_DIR:-$PWD/demo-data}
port=${PORT:-8080}
build/run/tessera make-demo "$demo"

cat <<MSG
Tessera is starting on http://127.0.0.1:$port/ serving $demo
Try, from another terminal:
  curl -s http://127.0.0.1:$port/healthz
  curl -s http://127.0.0.1:$port/metrics | head
  curl -s http://127.0.0.1:$port/openapi.yaml | head
  open http://127.0.0.1:$port/ in a browser for the endpoint list
Stop with Ctrl-C (drains in-flight requests, exits 0).
MSG
exec build/run/tessera --root "$demo" --host 127.0.0.1 --port "$port"
