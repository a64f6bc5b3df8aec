#!/usr/bin/env bash
# Install what is missing; build (Release with gcc and clang, normal, ASan+UBSan, TSan, fuzz)
# and run every test.
# Every build here turns warnings into errors (-DTESSERA_WERROR=ON; off by default so a
# packager's build with a newer compiler still completes).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
jobs=$(nproc)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== Release builds (-O3) with gcc and with clang: every target compiles warning-free"
# Build only; the fuzz targets are built (clang, warnings as errors) by tests/fuzz/run.sh.
for cc in gcc clang; do
  cmake -S . -B "build/release-$cc" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
        -DTESSERA_WERROR=ON >/dev/null
  cmake --build "build/release-$cc" -j"$jobs"
done

echo "== normal build (RelWithDebInfo)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j"$jobs" -LE '^memcheck$'

echo "== valgrind memcheck: every integration test with its servers under valgrind"
ctest --test-dir build/release --output-on-failure -j"$jobs" -L '^memcheck$'

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=ON \
      -DTESSERA_WERROR=ON >/dev/null
cmake --build build/asan -j"$jobs"
ctest --test-dir build/asan --output-on-failure -j"$jobs" \
    -E '^(clang_format|diff_scan|diff_classify|diff_overlap|diff_topk)$'

echo "== thread sanitizer build (threaded core units)"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_TSAN=ON \
      -DTESSERA_WERROR=ON >/dev/null
cmake --build build/tsan -j"$jobs" --target tessera_tsan_units
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -j"$jobs" \
    -L '^tsan$'

echo "== fuzz smoke (clang libFuzzer + ASan + UBSan): replay the seed corpora and regressions"
tests/fuzz/run.sh 0
