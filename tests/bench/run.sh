#!/usr/bin/env bash
# The one benchmark command: installs the bench packages (scripts/deps.sh bench), builds
# build/release (RelWithDebInfo) with the server and the core bench drivers, then runs, in
# order, http_baseline.sh, bench_scan.py, bench_classify.py, bench_topk.py, bench_overlap.py
# and bench_http.py, everything tee'd to build/bench-results.txt (each step's own output also
# to build/bench-logs/STEP.txt), and ends with a short summary: each step's status and time,
# and the lines that state a goal.
# Benchmarks report; they never fail on speed. The exit status is non-zero only when a step
# itself failed (build error, crash, a wrong answer caught by bench_http.py).
# Usage: tests/bench/run.sh [--quick]   (--quick: a ~5 minute smoke run; numbers rough)
# Takes about 30-40 minutes in full on a 2-core machine, most of it in bench_topk.py,
# bench_overlap.py and bench_http.py.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done

py=/usr/bin/python3 # Debian's numpy, scipy, skimage, tifffile are installed for this one
build=build/release
mkdir -p "$build" build/bench-logs
results=build/bench-results.txt
exec > >(tee "$results") 2>&1

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "tessera benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, commit" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$([ "$quick" = 1 ] && echo ', --quick')"
echo "load average at start: $(load)"

if ! scripts/deps.sh bench; then
  echo "run.sh: scripts/deps.sh bench failed" >&2
  exit 1
fi
if ! "$py" -c 'import openslide' 2>/dev/null; then
  echo "note: python3-openslide is not installed; openslide rows are left out" \
    "(apt-get install python3-openslide)"
fi
echo "== build $build (RelWithDebInfo)"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
  ! cmake --build "$build" -j"$(nproc)" \
    --target tessera bench_scan bench_classify bench_overlap bench_topk >/dev/null; then
  echo "run.sh: build failed" >&2
  exit 1
fi

if [ "$quick" = 1 ]; then
  baseline_args=(3s)
  scan_args=(--repeat 3)
  classify_args=(3)
  topk_args=(--repeats 2)
  overlap_args=(--sizes 2048)
  http_args=(--quick)
else
  baseline_args=()
  scan_args=()
  classify_args=()
  topk_args=()
  overlap_args=()
  http_args=()
fi
t=$build/tests

steps=() statuses=() seconds=()
step() { # step NAME COMMAND...: run, tee to build/bench-logs/NAME.txt, record status + time
  local name=$1
  shift
  printf '\n==================== %s (load average %s)\n' "$name" "$(load)"
  local t0=$SECONDS
  "$@" 2>&1 | tee "build/bench-logs/$name.txt"
  local rc=${PIPESTATUS[0]}
  steps+=("$name") statuses+=("$rc") seconds+=($((SECONDS - t0)))
}

step http_baseline tests/bench/http_baseline.sh "${baseline_args[@]}"
step bench_scan "$py" tests/bench/bench_scan.py "$t/bench_scan" "${scan_args[@]}"
step bench_classify "$py" tests/bench/bench_classify.py "$t/bench_classify" "${classify_args[@]}"
step bench_topk "$py" tests/bench/bench_topk.py "$t/bench_topk" "${topk_args[@]}"
step bench_overlap "$py" tests/bench/bench_overlap.py "$t/bench_overlap" "${overlap_args[@]}"
step bench_http "$py" tests/bench/bench_http.py "$build/tessera" "${http_args[@]}"

failed=0
printf '\n==================== summary%s\n' "$([ "$quick" = 1 ] && echo ' (--quick: rough numbers)')"
printf '%-16s %-8s %8s\n' step status seconds
for i in "${!steps[@]}"; do
  st=ok
  [ "${statuses[$i]}" != 0 ] && st="FAILED(${statuses[$i]})" && failed=1
  printf '%-16s %-8s %8s\n' "${steps[$i]}" "$st" "${seconds[$i]}"
done
echo
echo "goal lines (full tables above and in build/bench-logs/):"
for name in "${steps[@]}"; do
  log=build/bench-logs/$name.txt
  if [ "$name" = http_baseline ]; then
    lines=$(grep -E '^(nginx static|tessera )' "$log")
  else
    lines=$(grep -E 'goal|MISSED|[^a-z]met$|PROBLEM|MISMATCH|^server memory' "$log" |
      grep -vE '^(case|goals:)|goals are judged' || true)
  fi
  [ -n "$lines" ] && printf '[%s]\n%s\n' "$name" "$lines"
done
echo
echo "load average at end: $(load) on $(nproc) CPUs; results in $results"
exit "$failed"
