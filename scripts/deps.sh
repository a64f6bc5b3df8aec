#!/usr/bin/env bash
# Install the Debian 12 packages Tessera needs for a purpose: run | test | bench
# (bench also covers the abuse and soak scripts: tests/abuse, tests/bench/soak.sh).
# Every name is a Debian 12 binary package (apt-cache policy NAME shows a candidate); the
# tests require what the test set installs and fail, never skip, when it is missing.
# As root it installs what is missing with apt-get; otherwise it prints the exact
# apt-get line and exits 1. Nothing is installed that is already there.
set -euo pipefail

purpose=${1:-run}
run_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libtiff-dev
          libblosc-dev libzstd-dev zlib1g-dev libexpat1-dev libgnutls28-dev libpng-dev curl)
# The Python client's suite (ctest python_client) needs requests, pytest, pandas and Pillow
# (Client.preview decodes PNGs), its install test venv, setuptools and wheel (pip install
# --no-build-isolation), and python_client_types mypy.
test_pkgs=("${run_pkgs[@]}" libcurl4-openssl-dev openssl clang clang-format libclang-rt-14-dev
           python3 python3-numpy python3-scipy python3-skimage python3-tifffile python3-zarr
           python3-openslide libtiff-tools libvips-tools nginx nodejs chromium valgrind
           python3-requests python3-pytest python3-pandas python3-pil python3-mypy python3-venv
           python3-setuptools python3-wheel)
# Debian's npm package conflicts with a nodejs that already bundles npm (NodeSource's):
# ask for it only when there is no npm at all.
command -v npm >/dev/null 2>&1 || test_pkgs+=(npm)
# h2load comes in nghttp2-client.
bench_pkgs=("${test_pkgs[@]}" wrk hyperfine linux-perf slowhttptest nghttp2-client)

case "$purpose" in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${test_pkgs[@]}") ;;
  bench) want=("${bench_pkgs[@]}") ;;
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

# The contract, lint and browser tests run on node: the pinned packages of package-lock.json
# go into node_modules/ (npm ci, no install scripts) when it is missing or the lock changed.
npm_deps() {
  [ "$purpose" = run ] && return 0
  local root stamp want_sha
  root="$(cd "$(dirname "$0")/.." && pwd)"
  stamp="$root/node_modules/.tessera-lock-sha256"
  want_sha=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
  if [ ! -d "$root/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_sha" ]; then
    echo "Installing node packages from package-lock.json (npm ci)" >&2
    (cd "$root" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want_sha" > "$stamp"
  fi
}
missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  npm_deps
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Tessera needs these Debian packages; install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_deps
