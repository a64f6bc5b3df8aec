#!/usr/bin/env bash
# HTTP baseline: wrk -t2 -c64 -d10s against Tessera's /healthz and, in the same run on the
# same machine, against Debian's nginx serving a 15-byte static file on loopback.
# Prints requests/s, p99 latency and the ratio Tessera / nginx (goal: >= 0.5). Also a
# cached GET /classify on the demo data's OME pyramid (goal: >= 20,000 requests/s).
# Usage: tests/bench/http_baseline.sh [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}

scripts/deps.sh bench
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release --target tessera -j"$(nproc)" >/dev/null

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as www-data
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# nginx: two workers (Tessera has two connection threads), no access log.
nport=$(free_port)
mkdir -p "$work/nginx/html" "$work/nginx/logs"
printf '{"status":"ok"}' > "$work/nginx/html/healthz"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp; fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  server { listen 127.0.0.1:$nport; root $work/nginx/html; }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)

start_tessera() { # $1 = access-log true|false; sets $port
  build/release/tessera --root "$work/data" --port 0 --access-log="$1" > "$work/tessera-$1.log" 2>&1 &
  pids+=($!)
  port=""
  for _ in $(seq 200); do
    port=$(grep -ao '"port":[0-9]*' "$work/tessera-$1.log" | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && return
    sleep 0.05
  done
  echo "tessera did not start" >&2; exit 1
}
build/release/tessera make-demo "$work/data"
start_tessera false; tport=$port
start_tessera true; tport_log=$port
for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$nport/healthz" >/dev/null && break
  sleep 0.05
done
curl -sf "http://127.0.0.1:$nport/healthz" >/dev/null || { echo "nginx did not start" >&2; exit 1; }

measure() { # $1 = url; prints "rps p99_ms"
  out=$(wrk -t2 -c64 -d"$duration" --latency "$1")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$rps $p99"
}
to_ms() { # wrk latency like 1.23ms / 456.00us / 1.2s
  /usr/bin/python3 -c 'import sys; v=sys.argv[1]
for u,f in (("us",1e-3),("ms",1.0),("s",1e3)):
    if v.endswith(u): print("%.2f" % (float(v[:-len(u)])*f)); break' "$1"
}

read -r n_rps n_p99 <<<"$(measure "http://127.0.0.1:$nport/healthz")"
read -r t_rps t_p99 <<<"$(measure "http://127.0.0.1:$tport/healthz")"
read -r l_rps l_p99 <<<"$(measure "http://127.0.0.1:$tport_log/healthz")"
curl -sf "http://127.0.0.1:$tport/classify?path=slides/pyramid.ome.tif" >/dev/null
read -r c_rps c_p99 <<<"$(measure "http://127.0.0.1:$tport/classify?path=slides/pyramid.ome.tif")"

printf '\nwrk -t2 -c64 -d%s, loopback, %s cores\n' "$duration" "$(nproc)"
printf '%-34s %12s %10s %14s\n' "server" "requests/s" "p99 ms" "vs nginx"
printf '%-34s %12s %10s %14s\n' "nginx static file" "$n_rps" "$(to_ms "$n_p99")" "1.00x"
for row in "tessera /healthz (access log off)|$t_rps|$t_p99" \
           "tessera /healthz (access log on)|$l_rps|$l_p99" \
           "tessera GET /classify, cached|$c_rps|$c_p99"; do
  IFS='|' read -r name rps p99 <<<"$row"
  ratio=$(/usr/bin/python3 -c "print('%.2fx' % ($rps / $n_rps))")
  printf '%-34s %12s %10s %14s\n' "$name" "$rps" "$(to_ms "$p99")" "$ratio"
done
