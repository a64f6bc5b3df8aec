#!/usr/bin/env bash
# Abusive clients against the real server: slowloris, slow body and a 10,000-connection
# flood, each while a health checker probes GET /healthz on a new connection every 20 ms.
# Run by hand (not a ctest); prints a report and a summary table, exits 1 if a goal is missed.
#
# Usage: tests/abuse/run.sh [--tls] [BIN]
#   --tls  the same attacks against native HTTPS: a private CA and a server certificate are
#          made with openssl at start, every server runs with --tls-cert / --tls-key, the
#          probes, the sampler and the flood's check verify against the CA (every probe is
#          a new TLS handshake), slowhttptest connects with https:// (slow headers and slow
#          body after the handshake), and phases H1 / H2 add slow TLS handshakes
#   BIN  the server binary (default build/release/tessera, built RelWithDebInfo if missing)
#   env  ATTACK_SECONDS (default 60)  length of each attack
#        SETTLE_SECONDS (default 5)   wait after an attack before the "after" figures
#        PHASES (default "A1 A2 B1 B2 D", with --tls "H1 H2 A1 A2 B1 B2 D")  which to run
#        KEEP=1  keep the work directory (server logs, samples, probe JSON) for inspection
#
# Phases (each starts a fresh server on a free loopback port, demo data, --access-log=false):
#   A1  slowloris  slowhttptest -H -c 1000 -r 200 -i 10, server limits at their defaults
#       (--max-per-ip 256 caps the single attacker address at 256 connections)
#   A2  the same with --max-per-ip 0: all 1000 slow connections are held (the harder case)
#   B1  slow body  slowhttptest -B -c 1000 -r 200 -i 10 -s 10000000 POST /topk (JSON),
#       server defaults
#   B2  the same with --max-per-ip 0
#   D   probe.py flood: 10,000 connections as fast as possible, held 5 s, against
#       --max-connections 1000 --max-per-ip 0 (with --tls, each one still open after the
#       hold does its TLS handshake before its GET /healthz)
#   H1  (--tls) probe.py slowtls: 1000 connections from 127.0.0.1 that each send the first
#       bytes of a ClientHello and then one byte a second, reopened when closed; defaults
#   H2  the same with --max-per-ip 0
# Addresses: the attacker is 127.0.0.1 (slowhttptest cannot choose), the health probe and
# the /metrics sampler 127.0.0.2, the flood 127.0.0.3; all connect to 127.0.0.1.
#
# Goals, per phase: probe p99 < 100 ms and 0 failed probes (1 s timeout, as a Kubernetes
# probe); after the attack, open connections and fds back to the baseline, RSS within 8 MiB
# of it; peak RSS per held attacker connection <= 128 KiB (2 x the default --conn-memory);
# server exit status 0 on SIGTERM. Flood: at most --max-connections accepted, every excess
# connection refused or closed by the server (p99 < 1 s after its handshake), fds back to
# baseline. Slow handshakes: none held longer than --header-timeout (10 s) + 2 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
probe="$here/probe.py"

tls=0
if [ "${1:-}" = --tls ]; then
  tls=1
  shift
fi
attack_s=${ATTACK_SECONDS:-60}
settle_s=${SETTLE_SECONDS:-5}
phases=${PHASES:-"A1 A2 B1 B2 D"}
[ "$tls" = 0 ] || phases=${PHASES:-"H1 H2 A1 A2 B1 B2 D"}
header_timeout_s=10 # the server's default --header-timeout
flood_count=10000
probe_p99_goal_ms=100
rss_margin_kib=8192
rss_per_conn_goal_kib=128
slow_body_length=10000000

bin=${1:-}
if [ -z "$bin" ]; then
  bin="$repo/build/release/tessera"
  if [ ! -x "$bin" ]; then
    cmake -S "$repo" -B "$repo/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$repo/build/release" --target tessera -j2 >/dev/null
  fi
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[ -x "$bin" ] || { echo "run.sh: no server binary at $bin" >&2; exit 2; }
for tool in slowhttptest curl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done

# 10,000 client sockets + the server's 1,000: raise the fd limit for everything started here.
want_fds=$((flood_count + 2048))
ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
  flood_count=$(($(ulimit -n) - 2048))
  echo "note: ulimit -n is $(ulimit -n) (hard limit); the flood opens $flood_count connections"
fi

# shellcheck source=tests/abuse/report.sh
source "$here/report.sh"
report_init abuse phase
tls_setup "$tls"

"$bin" make-demo "$work/data" >/dev/null

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

# le A B: 1 when A <= B (numbers; "-" or empty is never <=)
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "-" && a != "" && a + 0 <= b + 0) ? 1 : 0 }'; }
# jget FILE KEY...: values of (dotted) keys of a one-object JSON file, "-" for null/missing
jget() {
  "$py" - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = []
for key in sys.argv[2:]:
    v = d
    for part in key.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    out.append("-" if v is None else (json.dumps(v, separators=(",", ":"))
                                      if isinstance(v, (dict, list)) else str(v)))
print(" ".join(out))
PY
}
mib() { awk -v k="$1" 'BEGIN { if (k == "-") print "-"; else printf "%.1f", k / 1024 }'; }

# start_server FLAGS...: sets srv_pid and port
start_server() {
  local log="$work/server.log"
  # --admin-port: the probe routes on a port of their own (probed too, see start_probe).
  admin_port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" --root "$work/data" --port 0 --access-log=false --drain-timeout 5 \
    --admin-port "$admin_port" "${tls_flags[@]}" "$@" >"$log" 2>&1 &
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
    echo "run.sh: the server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  curl -sf "${curl_tls[@]}" "$scheme://127.0.0.1:$port/healthz" >/dev/null
}

# stop_server: SIGTERM, wait; sets exit_status (128+N for a signal)
stop_server() {
  exit_status=0
  kill -TERM "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" || exit_status=$?
  srv_pid=""
}

# snapshot FILE: fds, rss_kib and open_connections of the server as JSON
snapshot() { "$py" "$probe" snapshot --pid "$srv_pid" --port "$port" "${probe_tls[@]}" >"$1"; }

start_probe() { # $1 = output file; the --admin-port probe writes ${1%.json}.admin.json
  "$py" "$probe" health --port "$port" --interval 0.02 --timeout 1 "${probe_tls[@]}" >"$1" &
  probe_pid=$!
  "$py" "$probe" health --port "$admin_port" --interval 0.02 --timeout 1 >"${1%.json}.admin.json" &
  admin_probe_pid=$!
  pids+=("$probe_pid" "$admin_probe_pid")
}
stop_bg() { # $1 = pid: SIGTERM and wait
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
start_sampler() { # $1 = output file
  "$py" "$probe" sample --pid "$srv_pid" --port "$port" --every 1 --out "$1" "${probe_tls[@]}" &
  sampler_pid=$!
  pids+=("$sampler_pid")
}
# peak FILE COLUMN: max of a sampler column (2 = fds, 3 = rss KiB)
peak() { awk -v c="$2" 'BEGIN { m = "-" } { if (m == "-" || $c + 0 > m) m = $c + 0 } END { print m }' "$1"; }

# probe_rows PHASE FILE: prints the probe figures and records their goals
probe_rows() {
  local count ok failed failures p50 p99 max
  read -r count ok failed failures p50 p99 max < <(jget "$2" count ok failed failures p50_ms p99_ms max_ms)
  printf '  probe /healthz: %s requests, %s ok, %s failed %s; p50 %s ms, p99 %s ms, max %s ms\n' \
    "$count" "$ok" "$failed" "$failures" "$p50" "$p99" "$max"
  record "$1" "probe failures" "$failed of $count $([ "$failed" != 0 ] && echo "$failures")" "0" \
    "$(eq "$failed" 0)"
  record "$1" "probe p99 latency" "$p99 ms (p50 $p50, max $max)" "< $probe_p99_goal_ms ms" \
    "$(le "$p99" "$((probe_p99_goal_ms - 1)).999")"
  local admin=${2%.json}.admin.json
  [ -s "$admin" ] || return 0
  read -r count ok failed failures p50 p99 max < <(jget "$admin" count ok failed failures p50_ms p99_ms max_ms)
  printf '  probe /healthz on --admin-port: %s requests, %s ok, %s failed %s; p50 %s ms, p99 %s ms, max %s ms\n' \
    "$count" "$ok" "$failed" "$failures" "$p50" "$p99" "$max"
  record "$1" "admin-port probe failures" "$failed of $count $([ "$failed" != 0 ] && echo "$failures")" \
    "0" "$(eq "$failed" 0)"
  record "$1" "admin-port probe p99" "$p99 ms (p50 $p50, max $max)" "< $probe_p99_goal_ms ms" \
    "$(le "$p99" "$((probe_p99_goal_ms - 1)).999")"
}

# after_rows PHASE BASE_JSON AFTER_JSON SAMPLES: baseline / peak / after and their goals
after_rows() {
  local phase=$1 b_fds b_rss b_oc a_fds a_rss a_oc p_fds p_rss
  read -r b_fds b_rss b_oc < <(jget "$2" fds rss_kib open_connections)
  read -r a_fds a_rss a_oc < <(jget "$3" fds rss_kib open_connections)
  p_fds=$(peak "$4" 2)
  p_rss=$(peak "$4" 3)
  printf '  %-22s %10s %10s %10s\n' "" baseline peak after
  printf '  %-22s %10s %10s %10s\n' "open connections" "$b_oc" "$((p_fds - b_fds + b_oc))*" "$a_oc"
  printf '  %-22s %10s %10s %10s\n' "fds" "$b_fds" "$p_fds" "$a_fds"
  printf '  %-22s %10s %10s %10s\n' "RSS MiB" "$(mib "$b_rss")" "$(mib "$p_rss")" "$(mib "$a_rss")"
  echo "  (* peak open connections = peak fds - baseline fds: /metrics is unreachable at the limit)"
  record "$phase" "open connections after" "$a_oc (baseline $b_oc)" "= baseline" "$(eq "$a_oc" "$b_oc")"
  record "$phase" "fds after" "$a_fds (baseline $b_fds, peak $p_fds)" "= baseline" \
    "$(eq "$a_fds" "$b_fds")"
  record "$phase" "RSS after" "$(mib "$a_rss") MiB (baseline $(mib "$b_rss"), peak $(mib "$p_rss"))" \
    "<= baseline + $((rss_margin_kib / 1024)) MiB" "$(le "$a_rss" "$((b_rss + rss_margin_kib))")"
  held=$((p_fds - b_fds))
  if [ "$held" -gt 0 ]; then
    local per
    per=$(((p_rss - b_rss) / held))
    record "$phase" "peak RSS per held connection" "$per KiB ($held held)" \
      "<= $rss_per_conn_goal_kib KiB" "$(le "$per" "$rss_per_conn_goal_kib")"
  fi
}

# recovery PHASE BASE_JSON AFTER_JSON: when the fds are not back to the baseline at the
# "after" snapshot, poll once a second for up to 60 s more: a late release or a leak?
recovery() {
  local b a t=0
  read -r b < <(jget "$2" fds)
  read -r a < <(jget "$3" fds)
  [ "$a" = "$b" ] && return 0
  while [ "$t" -lt 60 ]; do
    sleep 1
    t=$((t + 1))
    a=$(find "/proc/$srv_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    [ "$a" = "$b" ] && break
  done
  if [ "$a" = "$b" ]; then
    echo "  fds back to the baseline $((settle_s + t)) s after the attack ended (late, not leaked)"
    record "$1" "fds back to baseline" "after $((settle_s + t)) s" "(reported: no leak)" 1
  else
    echo "  fds still $a (baseline $b) $((settle_s + t)) s after the attack ended: leaked"
    record "$1" "fds back to baseline" "still $a after $((settle_s + t)) s" "within 60 s" 0
  fi
}

slow_status() { # last "connected/closed/error" of a slowhttptest log, without colours
  sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' "$1" | awk '
    /^connected:/ { c = $2 } /^closed:/ { x = $2 } /^error:/ { e = $2 }
    /^service available:/ { a = $3 }
    END { printf "connected %s, closed %s, error %s, service available (its own probe): %s", c, x, e, a }'
}


# ---------------------------------------------------------------------------------------
# Phases A and B: slowhttptest from 127.0.0.1 while the probe runs
# ---------------------------------------------------------------------------------------

# slow_phase NAME TITLE URL_PATH [SERVER_FLAG...] -- SLOWHTTPTEST_ARG...
slow_phase() {
  local name=$1 title=$2 url_path=$3
  shift 3
  local flags=() attack=()
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  attack=("$@" -l "$attack_s")
  echo
  echo "== $name: $title"
  echo "   server flags: ${flags[*]:-(defaults: --max-connections 1000 --max-per-ip 256)}"
  echo "   attack: slowhttptest ${attack[*]} -u $scheme://127.0.0.1:PORT$url_path"
  start_server "${flags[@]}"
  sleep 1
  snapshot "$work/$name.base.json"
  start_sampler "$work/$name.samples"
  start_probe "$work/$name.probe.json"
  sleep 1
  local st=0
  slowhttptest "${attack[@]}" -u "$scheme://127.0.0.1:$port$url_path" >"$work/$name.slow.log" 2>&1 &
  local attacker=$!
  pids+=("$attacker")
  wait "$attacker" || st=$?
  stop_bg "$probe_pid"
  stop_bg "$admin_probe_pid"
  echo "  slowhttptest (exit $st) at its end: $(slow_status "$work/$name.slow.log")"
  sleep "$settle_s"
  snapshot "$work/$name.after.json"
  stop_bg "$sampler_pid"
  probe_rows "$name" "$work/$name.probe.json"
  after_rows "$name" "$work/$name.base.json" "$work/$name.after.json" "$work/$name.samples"
  recovery "$name" "$work/$name.base.json" "$work/$name.after.json"
  server_end "$name"
}

# server_end PHASE: stop the server, report and check its exit status
server_end() {
  local warns
  stop_server
  cp "$work/server.log" "$work/$1.server.log"
  warns=$(grep -c '"source":"libmicrohttpd"' "$work/server.log" || true)
  echo "  server: exit status $exit_status on SIGTERM; $warns libmicrohttpd warning lines" \
    "written to stdout (with --access-log=false)$([ "$warns" -gt 0 ] && echo ", most frequent:")"
  grep '"source":"libmicrohttpd"' "$work/server.log" | grep -o '"msg":"[^"]*"' | sort |
    uniq -c | sort -rn | head -3 | sed 's/^/   /' || true
  record "$1" "server exit on SIGTERM" "$exit_status" "0" "$(eq "$exit_status" 0)"
}

# ---------------------------------------------------------------------------------------
# Phases H1 and H2 (--tls): slow TLS handshakes from 127.0.0.1 while the probe runs
# ---------------------------------------------------------------------------------------

# handshake_phase NAME [SERVER_FLAG...]
handshake_phase() {
  local name=$1
  shift
  local held_goal_s=$((header_timeout_s + 2))
  echo
  echo "== $name: slow TLS handshakes, 1000 connections from one address, one ClientHello" \
    "byte a second, reopened when closed"
  echo "   server flags: ${*:-(defaults: --max-connections 1000 --max-per-ip 256)}"
  echo "   attack: probe.py slowtls --count 1000 --rate 200 --interval 1 --duration $attack_s"
  start_server "$@"
  sleep 1
  snapshot "$work/$name.base.json"
  start_sampler "$work/$name.samples"
  start_probe "$work/$name.probe.json"
  sleep 1
  "$py" "$probe" slowtls --port "$port" --count 1000 --rate 200 --interval 1 \
    --duration "$attack_s" >"$work/$name.slowtls.json"
  stop_bg "$probe_pid"
  stop_bg "$admin_probe_pid"
  local made refused closed reset open_end oldest h50 h99 hmax
  read -r made refused closed reset open_end oldest h50 h99 hmax < <(jget \
    "$work/$name.slowtls.json" connections refused closed_by_server reset_by_server open_at_end \
    oldest_open_s held_p50_s held_p99_s held_max_s)
  echo "  attacker: $made connections made, $refused refused at connect; closed by the server:" \
    "$closed (+ $reset reset), held p50 $h50 s, p99 $h99 s, max $hmax s; $open_end open at" \
    "the end (oldest $oldest s)"
  record "$name" "slow handshake held, max" "$hmax s (p50 $h50, p99 $h99; $closed closed)" \
    "<= $held_goal_s s" "$(le "$hmax" "$held_goal_s")"
  record "$name" "oldest open at the end" "$oldest s ($open_end open)" "<= $held_goal_s s" \
    "$(le "${oldest/-/0}" "$held_goal_s")"
  sleep "$settle_s"
  snapshot "$work/$name.after.json"
  stop_bg "$sampler_pid"
  probe_rows "$name" "$work/$name.probe.json"
  after_rows "$name" "$work/$name.base.json" "$work/$name.after.json" "$work/$name.samples"
  recovery "$name" "$work/$name.base.json" "$work/$name.after.json"
  server_end "$name"
}

# ---------------------------------------------------------------------------------------
# Phase D: 10,000 connections against --max-connections 1000
# ---------------------------------------------------------------------------------------

flood_phase() {
  local name=D max_conn=1000
  echo
  echo "== $name: $flood_count connections as fast as possible, held 5 s, from 127.0.0.3"
  echo "   server flags: --max-connections $max_conn --max-per-ip 0; ulimit -n $(ulimit -n)"
  start_server --max-connections "$max_conn" --max-per-ip 0
  sleep 1
  snapshot "$work/$name.base.json"
  start_sampler "$work/$name.samples"
  start_probe "$work/$name.probe.json"
  sleep 1
  # Over TLS the ~1000 handshakes after the hold take a while on 2 cores: 10 s to answer.
  "$py" "$probe" flood --port "$port" --count "$flood_count" --hold 5 --pid "$srv_pid" \
    --answer-timeout "$([ "$tls" = 1 ] && echo 10 || echo 3)" "${probe_tls[@]}" \
    >"$work/$name.flood.json"
  stop_bg "$probe_pid"
  stop_bg "$admin_probe_pid"
  sleep "$settle_s"
  snapshot "$work/$name.after.json"
  stop_bg "$sampler_pid"

  local f="$work/$name.flood.json" b_fds
  local attempted opened_s mid_fds open_end pending refused errors closed c50 c99 cmax served unserved
  read -r attempted opened_s mid_fds open_end pending refused errors closed c50 c99 cmax served \
    unserved < <(jget "$f" attempted open_phase_s server_mid_hold.fds open_at_end_of_hold \
    pending_at_end_of_hold connect_refused connect_error closed_by_server \
    close_after_handshake_p50_ms close_after_handshake_p99_ms close_after_handshake_max_ms \
    served unserved)
  read -r b_fds < <(jget "$work/$name.base.json" fds)
  local accepted=$((mid_fds - b_fds))
  local excess=$((attempted - accepted))
  local turned_away=$((refused + closed))
  echo "  client: $attempted connect() calls issued in $opened_s s"
  echo "  server fds in the middle of the hold: $mid_fds (baseline $b_fds) => $accepted accepted"
  echo "  at the end of the hold (client view): $open_end open, $pending connect still pending" \
    "(SYN unanswered), $refused refused, connect errors $errors"
  echo "  closed by the server during the hold: $closed (after handshake: p50 $c50 ms," \
    "p99 $c99 ms, max $cmax ms)"
  echo "  GET /healthz (keep-alive) on each open one: $served answered, $unserved" \
    "never answered (completed handshake, left in the listen backlog)"
  record "$name" "connections accepted" "$accepted of $attempted" "<= $max_conn" \
    "$(le "$accepted" "$max_conn")"
  record "$name" "excess refused/closed" \
    "$turned_away of $excess ($open_end open, $pending SYN pending)" "all $excess" \
    "$(le "$excess" "$turned_away")"
  record "$name" "time to close an excess" "p99 $c99 ms ($closed closed)" "< 1000 ms" \
    "$(le "$c99" 999.999)"
  probe_rows "$name" "$work/$name.probe.json"
  after_rows "$name" "$work/$name.base.json" "$work/$name.after.json" "$work/$name.samples"
  recovery "$name" "$work/$name.base.json" "$work/$name.after.json"
  server_end "$name"
}

# ---------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------

echo "tessera abuse run, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server: $bin$([ "$tls" = 1 ] && echo ", native HTTPS (--tls-cert, private CA; the admin port stays HTTP)")"
echo "attack length ${attack_s} s, settle ${settle_s} s, probe: new connection per GET /healthz" \
  "every 20 ms from 127.0.0.2, 1 s timeout"
slowloris="slowloris (slow headers), 1000 connections from one address"
slowbody="slow body, 1000 connections from one address, Content-Length $slow_body_length"
for phase in $phases; do
  case "$phase" in
    A1) slow_phase A1 "$slowloris" /scan -- -H -c 1000 -r 200 -i 10 ;;
    A2) slow_phase A2 "$slowloris" /scan --max-per-ip 0 -- -H -c 1000 -r 200 -i 10 ;;
    B1) slow_phase B1 "$slowbody" /topk -- -B -c 1000 -r 200 -i 10 -s "$slow_body_length" \
      -f application/json ;;
    B2) slow_phase B2 "$slowbody" /topk --max-per-ip 0 -- -B -c 1000 -r 200 -i 10 \
      -s "$slow_body_length" -f application/json ;;
    D) flood_phase ;;
    H1 | H2)
      [ "$tls" = 1 ] || { echo "run.sh: phase $phase needs --tls" >&2; exit 2; }
      if [ "$phase" = H1 ]; then handshake_phase H1; else handshake_phase H2 --max-per-ip 0; fi ;;
    *) echo "run.sh: unknown phase '$phase' (A1 A2 B1 B2 D, with --tls also H1 H2)" >&2; exit 2 ;;
  esac
done

report_finish
