#!/usr/bin/env bash
# Load and soak: a mixed wrk load (tests/bench/mixed.lua: GET /scan, cached GET /classify,
# a small POST /overlap, POST /topk) against the real server on the demo data, then a long
# soak watching RSS and fds, then a burst past the worker queue. Run by hand (not a ctest);
# prints a report and a summary table, exits 1 if a goal is missed.
#
# Usage: tests/bench/soak.sh [--tls] [BIN] [DURATION_S]
#   --tls       every step against native HTTPS: a private CA and a server certificate made
#               with openssl at start, the servers run with --tls-cert / --tls-key, wrk, curl
#               and the burst clients speak HTTPS (the burst clients verify against the CA)
#   BIN         server binary (default build/release/tessera, built RelWithDebInfo if missing)
#   DURATION_S  soak length in seconds (default 600)
#   env LOAD_SECONDS (default 60) length of step 1; KEEP=1 keeps the work directory
#
# 1. load   wrk -t2 -c64 -d60s --latency -s mixed.lua: requests/s, latency p50/p99 and the
#           status table per kind. Goal: 0 unexpected statuses, 0 socket errors (a 503 with
#           Retry-After is "shed": reported, not a failure).
# 2. soak   a fresh server, wrk -t2 -c64 for DURATION_S; RSS and fd count sampled every 10 s.
#           Goals: RSS drift from the end of the warm-up (first 60 s) to the end < 5 %; fd
#           count once idle again equal to the count before the soak; 0 unexpected statuses.
# 3. burst  a fresh server with --workers 1 --queue 2 --threads 1; 64 clients send POST
#           /overlap as fast as they can for 10 s. Goals: 503s come back with Retry-After,
#           p99 time of a 503 < 100 ms, no request hangs (10 s client timeout) or errors,
#           every other answer 200, tessera_rejected_busy_total = the 503s seen.
# All servers run with --access-log=false on a free loopback port (--port 0).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
lua="$here/mixed.lua"

tls=0
if [ "${1:-}" = --tls ]; then
  tls=1
  shift
fi
bin=${1:-}
duration=${2:-600}
if [ -z "$bin" ]; then
  bin="$repo/build/release/tessera"
  if [ ! -x "$bin" ]; then
    cmake -S "$repo" -B "$repo/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$repo/build/release" --target tessera -j2 >/dev/null
  fi
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[ -x "$bin" ] || { echo "soak.sh: no server binary at $bin" >&2; exit 2; }
command -v wrk >/dev/null || { echo "soak.sh: wrk is not installed" >&2; exit 2; }
[ "$duration" -ge 20 ] || { echo "soak.sh: DURATION_S must be >= 20" >&2; exit 2; }
warmup=60
[ "$duration" -ge 120 ] || warmup=$((duration / 2))
sample_every=10
drift_goal_pct=5
shed_p99_goal_ms=100

# shellcheck source=tests/abuse/report.sh
source "$repo/tests/abuse/report.sh"
report_init soak step
tls_setup "$tls"

"$bin" make-demo "$work/data" >/dev/null

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "-" && a != "" && a + 0 < b + 0) ? 1 : 0 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$srv_pid/status"; }
fd_count() { find "/proc/$srv_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

start_server() { # FLAGS...: sets srv_pid, port
  local log="$work/server.log"
  "$bin" --root "$work/data" --port 0 --access-log=false --drain-timeout 5 "${tls_flags[@]}" "$@" \
    >"$log" 2>&1 &
  srv_pid=$!
  port=""
  for _ in $(seq 200); do
    port=$(grep -ao '"msg":"listening".*"port":[0-9]*' "$log" | grep -o '"port":[0-9]*' |
      cut -d: -f2 | head -1 || true)
    [ -n "$port" ] && break
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "soak.sh: the server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  curl -sf "${curl_tls[@]}" "$scheme://127.0.0.1:$port/healthz" >/dev/null
  # warm the classification cache, so "cached GET /classify" is cached from the first request
  curl -sf "${curl_tls[@]}" "$scheme://127.0.0.1:$port/classify?path=slides/pyramid.ome.tif" >/dev/null
}

stop_server() { # STEP: SIGTERM, wait, check the exit status
  local st=0
  kill -TERM "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" || st=$?
  srv_pid=""
  echo "  server: exit status $st on SIGTERM"
  record "$1" "server exit on SIGTERM" "$st" "0" "$(eq "$st" 0)"
}

# wrk_report STEP FILE: prints the figures of a mixed.lua run and records the goals
wrk_report() {
  local step=$1 f=$2 p50 p99 max rps errors ok shed unexpected unknown
  read -r p50 p99 max rps errors < <(sed -n 's/^mixed-latency p50_ms=\([^ ]*\) p99_ms=\([^ ]*\) max_ms=\([^ ]*\) rps=\([^ ]*\) errors=\([^ ]*\)$/\1 \2 \3 \4 \5/p' "$f")
  read -r ok shed unexpected unknown < <(sed -n 's/^mixed-total ok=\([0-9]*\) shed=\([0-9]*\) unexpected=\([0-9]*\) unknown=\([0-9]*\)$/\1 \2 \3 \4/p' "$f")
  if [ -z "${ok:-}" ] || [ -z "${rps:-}" ]; then
    echo "  wrk printed no mixed.lua summary:"
    sed 's/^/    /' "$f"
    record "$step" "wrk run" "no summary" "completes" 0
    return
  fi
  local load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  echo "  requests/s $rps; latency p50 $p50 ms, p99 $p99 ms, max $max ms;" \
    "socket errors (connect,read,write,timeout) $errors; load average $load1 at the end"
  printf '  %-10s %-10s %10s\n' kind status count
  awk '$1 == "mixed-status" { printf "  %-10s %-10s %10d\n", $2, $3, $4 }' "$f"
  echo "  total: $ok ok (200), $shed shed (503 + Retry-After), $unexpected unexpected" \
    "($unknown of them without a known X-Request-Id)"
  record "$step" "requests/s, latency" "$rps rps, p50 $p50 ms, p99 $p99 ms (load $load1)" \
    "(reported)" 1
  record "$step" "unexpected statuses" "$unexpected (ok $ok, shed $shed)" "0" "$(eq "$unexpected" 0)"
  record "$step" "socket errors c,r,w,t" "$errors" "0,0,0,0" "$(eq "$errors" 0,0,0,0)"
}

# ---------------------------------------------------------------------------------------
# 1. Mixed load, 60 s
# ---------------------------------------------------------------------------------------

echo "tessera load and soak, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server: $bin$([ "$tls" = 1 ] && echo ", native HTTPS (--tls-cert, private CA)")"
echo
load_s=${LOAD_SECONDS:-60}
echo "== 1. load: wrk -t2 -c64 -d${load_s}s --latency -s mixed.lua (server defaults)"
start_server
wrk -t2 -c64 -d"${load_s}s" --latency -s "$lua" "$scheme://127.0.0.1:$port" >"$work/load.txt" 2>&1 || true
wrk_report load "$work/load.txt"
stop_server load

# ---------------------------------------------------------------------------------------
# 2. Soak
# ---------------------------------------------------------------------------------------

echo
echo "== 2. soak: wrk -t2 -c64 -d${duration}s -s mixed.lua on a fresh server; RSS and fds" \
  "every ${sample_every} s (warm-up: first ${warmup} s)"
start_server
sleep 1
fds_idle_before=$(fd_count)
rss_start=$(rss_kib)
wrk -t2 -c64 -d"${duration}s" --latency -s "$lua" "$scheme://127.0.0.1:$port" >"$work/soak.txt" 2>&1 &
wrk_pid=$!
pids+=("$wrk_pid")
t0=$(date +%s)
printf '  %6s %10s %6s\n' t_s RSS_MiB fds
printf '  %6d %10s %6d   (idle, before)\n' 0 "$(mib "$rss_start")" "$fds_idle_before"
: >"$work/soak.samples"
while kill -0 "$wrk_pid" 2>/dev/null; do
  next=$(($(date +%s) + sample_every))
  while [ "$(date +%s)" -lt "$next" ] && kill -0 "$wrk_pid" 2>/dev/null; do sleep 0.5; done
  kill -0 "$wrk_pid" 2>/dev/null || break
  t=$(($(date +%s) - t0))
  [ "$t" -lt "$duration" ] || break # wrk is closing its connections now
  r=$(rss_kib)
  n=$(fd_count)
  echo "$t $r $n" >>"$work/soak.samples"
  printf '  %6d %10s %6d\n' "$t" "$(mib "$r")" "$n"
done
wait "$wrk_pid" || true
sleep 2
fds_idle_after=$(fd_count)
rss_idle_after=$(rss_kib)
printf '  %6s %10s %6d   (idle, after)\n' end "$(mib "$rss_idle_after")" "$fds_idle_after"
wrk_report soak "$work/soak.txt"
read -r rss_warm rss_end rss_max fd_min fd_max < <(awk -v w="$warmup" '
  { if (warm == "" && $1 >= w) warm = $2; last = $2; if ($2 > max) max = $2
    if (fmin == "" || $3 < fmin) fmin = $3; if ($3 > fmax) fmax = $3 }
  END { print (warm == "" ? "-" : warm), last, max, fmin, fmax }' "$work/soak.samples")
drift=$(awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN { if (a == "-" || a == 0) print "-"; else printf "%.2f", (b - a) * 100 / a }')
echo "  RSS: start $(mib "$rss_start") MiB, after warm-up $(mib "$rss_warm") MiB, end" \
  "$(mib "$rss_end") MiB, max $(mib "$rss_max") MiB, idle after $(mib "$rss_idle_after") MiB;" \
  "drift after warm-up $drift %"
echo "  fds: idle before $fds_idle_before, under load $fd_min..$fd_max, idle after $fds_idle_after"
record soak "RSS drift (warm-up -> end)" "$drift % ($(mib "$rss_warm") -> $(mib "$rss_end") MiB; start $(mib "$rss_start"), max $(mib "$rss_max"))" \
  "< $drift_goal_pct %" "$(lt "${drift#-}" "$drift_goal_pct")"
record soak "fd growth (idle before -> after)" "$((fds_idle_after - fds_idle_before)) ($fds_idle_before -> $fds_idle_after; load $fd_min..$fd_max)" \
  "0" "$(eq "$fds_idle_after" "$fds_idle_before")"
record soak "soak length" "${duration} s" "600 s by default" 1
stop_server soak

# ---------------------------------------------------------------------------------------
# 3. Burst past the worker queue
# ---------------------------------------------------------------------------------------

echo
echo "== 3. burst: --workers 1 --queue 2 --threads 1; 64 clients POST /overlap for 10 s"
echo "   (access log on for this step: the server's own duration of each 503)"
start_server --workers 1 --queue 2 --threads 1 --access-log=true
"$py" - "$port" "$tls_ca" >"$work/burst.json" <<'PY'
import http.client, json, ssl, sys, threading, time

port, clients, seconds, timeout = int(sys.argv[1]), 64, 10.0, 10.0
ctx = ssl.create_default_context(cafile=sys.argv[2]) if sys.argv[2] else None
body = json.dumps({"a": "labels/truth.tif", "b": "labels/predicted.tif", "iou": True})
results = []  # (status or error name, seconds, has Retry-After)
lock = threading.Lock()
barrier = threading.Barrier(clients)

def client():
    conn, mine = None, []
    barrier.wait()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = (http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
                        if ctx else http.client.HTTPConnection("127.0.0.1", port, timeout=timeout))
            conn.request("POST", "/overlap", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            mine.append((r.status, time.monotonic() - t0, r.getheader("Retry-After") is not None))
            if (r.getheader("Connection") or "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # a hang shows up as a timeout here
            mine.append((type(e).__name__, time.monotonic() - t0, False))
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()
    with lock:
        results.extend(mine)

threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()

def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, max(0, int(q / 100.0 * len(values) + 0.5) - 1))] * 1e3, 3)

by = {}
for status, secs, _ in results:
    by.setdefault(str(status), []).append(secs)
shed = [s for st, s, ra in results if st == 503]
print(json.dumps({
    "total": len(results),
    "statuses": {k: len(v) for k, v in sorted(by.items())},
    "ok": len(by.get("200", [])),
    "ok_p50_ms": pct(by.get("200", []), 50), "ok_p99_ms": pct(by.get("200", []), 99),
    "shed": len(shed),
    "shed_without_retry_after": sum(1 for st, s, ra in results if st == 503 and not ra),
    "shed_p50_ms": pct(shed, 50), "shed_p99_ms": pct(shed, 99),
    "shed_max_ms": round(max(shed) * 1e3, 3) if shed else None,
    "other": sum(len(v) for k, v in by.items() if k not in ("200", "503")),
    "slowest_ms": round(max(s for _, s, _ in results) * 1e3, 3) if results else None,
}))
PY
rejected=$(curl -s "${curl_tls[@]}" "$scheme://127.0.0.1:$port/metrics" | awk '$1 == "tessera_rejected_busy_total" { print $2 }')
health=$(curl -s "${curl_tls[@]}" -o /dev/null -w '%{http_code}' "$scheme://127.0.0.1:$port/healthz")
server_shed=$(grep -a '"type":"access"' "$work/server.log" | grep -a '"status":503' |
  grep -ao '"duration_ms":[0-9.]*' | cut -d: -f2 | sort -n | awk '{ v[NR] = $1 }
  END { if (NR == 0) { print "- - -"; exit }
        i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
        print v[i50], v[i99], v[NR] }')
read -r total statuses ok ok50 ok99 shed shed_nora s50 s99 smax other slowest < <("$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
keys = "total statuses ok ok_p50_ms ok_p99_ms shed shed_without_retry_after shed_p50_ms shed_p99_ms shed_max_ms other slowest_ms".split()
print(" ".join("-" if d[k] is None else (json.dumps(d[k], separators=(",", ":")) if isinstance(d[k], dict) else str(d[k])) for k in keys))
' "$work/burst.json")
echo "  $total requests: $statuses"
echo "  200: $ok (p50 $ok50 ms, p99 $ok99 ms); 503: $shed (p50 $s50 ms, p99 $s99 ms, max $smax ms)," \
  "$shed_nora of them without Retry-After; other: $other; slowest request $slowest ms"
echo "  server-side time of a 503 (access log duration_ms): p50/p99/max $server_shed ms"
echo "  tessera_rejected_busy_total $rejected; GET /healthz afterwards: $health"
record burst "503s seen (queue exceeded)" "$shed of $total" "> 0" "$([ "$shed" -gt 0 ] && echo 1 || echo 0)"
record burst "503 p99 time" "$s99 ms (p50 $s50, max $smax)" "< $shed_p99_goal_ms ms" \
  "$(lt "$s99" "$shed_p99_goal_ms")"
record burst "503 p50/p99/max, server side" "$server_shed ms" "(reported)" 1
record burst "503 without Retry-After" "$shed_nora" "0" "$(eq "$shed_nora" 0)"
record burst "hangs/errors/other statuses" "$other (slowest request $slowest ms)" "0" "$(eq "$other" 0)"
record burst "rejected_busy_total = 503s" "$rejected vs $shed" "equal" "$(eq "${rejected:-x}" "$shed")"
record burst "/healthz after the burst" "$health" "200" "$(eq "$health" 200)"
stop_server burst

report_finish
