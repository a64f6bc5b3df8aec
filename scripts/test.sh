#!/usr/bin/env bash
# Install what is missing, build the normal and the ASan+UBSan builds, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
jobs=$(nproc)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== normal build (RelWithDebInfo)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j"$jobs" -LE '^memcheck$'

echo "== valgrind memcheck: every integration test with its servers under valgrind"
ctest --test-dir build/release --output-on-failure -j"$jobs" -L '^memcheck$'

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=ON >/dev/null
cmake --build build/asan -j"$jobs"
ctest --test-dir build/asan --output-on-failure -j"$jobs" \
    -E '^(clang_format|diff_scan|diff_classify|diff_overlap|diff_topk)$'

echo "== thread sanitizer build (threaded core units)"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_TSAN=ON >/dev/null
cmake --build build/tsan -j"$jobs" --target tessera_tsan_units
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -j"$jobs" \
    -L '^tsan$'

echo "== fuzz smoke (clang libFuzzer + ASan + UBSan): replay the seed corpora and regressions"
tests/fuzz/run.sh 0
