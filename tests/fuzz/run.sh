#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 60), one after another, with the seed
# corpora (tests/fuzz/make_corpus.py + tests/fuzz/regressions) and dictionaries.
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS=0 only replays the corpora once (the smoke pass the test command runs).
# Builds build/fuzz with clang if needed. Corpora grow in build/fuzz/corpus/<target>;
# crashing inputs land in build/fuzz/artifacts/ and make the script exit 1. Every run is
# appended to build/fuzz/ledger.tsv (time, target, seconds it really ran, executions, result).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_confine fuzz_classify fuzz_load fuzz_npy fuzz_zarr_array fuzz_zarr_codec
                                    fuzz_handlers fuzz_http)

build=build/fuzz
if [ ! -x "$build/tests/fuzz/fuzz_handlers" ] || [ -n "${FUZZ_REBUILD:-}" ] ||
   ! grep -qx 'TESSERA_WERROR:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTESSERA_FUZZ=ON -DTESSERA_WERROR=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target tessera "${targets[@]}" >/dev/null

corpus=$build/corpus
if [ ! -d "$corpus/http" ] || [ ! -d "$corpus/npy" ]; then
  /usr/bin/python3 tests/fuzz/make_corpus.py "$build/tessera" "$corpus"
fi
mkdir -p "$build/artifacts"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
printf '%-16s %8s %12s %8s\n' target seconds executions result
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  mkdir -p "$corpus/$name"
  dict=()
  case $name in
    classify|load) dict=(-dict=tests/fuzz/tiff.dict) ;;
    npy) dict=(-dict=tests/fuzz/npy.dict) ;;
    handlers) dict=(-dict=tests/fuzz/handlers.dict) ;;
    http) dict=(-dict=tests/fuzz/http.dict) ;;
  esac
  log=$build/artifacts/$t.log
  if [ "$seconds" -eq 0 ]; then
    args=(-runs=0 "$corpus/$name" tests/fuzz/regressions)
  else
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576
          "${dict[@]}" "$corpus/$name" tests/fuzz/regressions)
  fi
  started=$(date +%s)
  if "$build/tests/fuzz/$t" -artifact_prefix="$build/artifacts/$t-" "${args[@]}" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    tail -n 30 "$log" >&2
  fi
  execs=$(grep -aoE '^(#[0-9]+|Done [0-9]+ runs)' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
  printf '%-16s %8s %12s %8s\n' "$t" "$seconds" "$execs" "$result"
  # The ledger sums up how long each target has run, across runs, for the report.
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$(($(date +%s) - started))" \
    "$execs" "$result" \
    >>"$build/ledger.tsv"
done
exit $status
