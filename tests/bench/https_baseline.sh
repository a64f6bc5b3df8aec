#!/usr/bin/env bash
# HTTPS baseline: what TLS costs, measured side by side in one run on loopback with
# wrk -t2 -c64 -d10s against /healthz:
#   tessera over plain HTTP;
#   tessera over native HTTPS (--tls-cert / --tls-key, the default priorities: TLS 1.3);
#   nginx terminating TLS in front of that plain-HTTP tessera (proxy_pass, keep-alive
#   upstream), as docker/nginx-tls.conf does;
# each with kept-alive connections (one handshake per connection) and with
# "Connection: close" (one TLS handshake per request, the worst case); then the same three
# under the mixed load of tests/bench/mixed.lua (GET /scan, GET /classify, POST /overlap,
# POST /topk: what soak.sh runs), kept alive. Certificates are a private CA and a server
# certificate made here with openssl (EC P-256). Each row gives the 1-minute load average
# read when its measurement ended.
# Usage: tests/bench/https_baseline.sh [duration, default 10s]
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

# A private CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/ext.cnf" -out "$work/server.pem" 2>/dev/null
chmod 644 "$work"/*.key

start_tessera() { # $1 = name, then options; sets $port
  local name=$1
  shift
  build/release/tessera --root "$work/data" --port 0 --access-log=false "$@" \
    > "$work/tessera-$name.log" 2>&1 &
  pids+=($!)
  port=""
  for _ in $(seq 200); do
    port=$(grep -ao '"port":[0-9]*' "$work/tessera-$name.log" | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && return
    sleep 0.05
  done
  echo "tessera ($name) did not start: $(cat "$work/tessera-$name.log")" >&2
  exit 1
}
build/release/tessera make-demo "$work/data" >/dev/null
start_tessera http; hport=$port
start_tessera https --tls-cert "$work/server.pem" --tls-key "$work/server.key"; sport=$port

# nginx: two workers (Tessera has two connection threads), TLS to the client, plain HTTP
# with kept-alive connections to the tessera above.
nport=$(free_port)
mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp; fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  upstream tessera { server 127.0.0.1:$hport; keepalive 32; }
  server {
    listen 127.0.0.1:$nport ssl;
    ssl_certificate $work/server.pem;
    ssl_certificate_key $work/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://tessera;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
for url in "http://127.0.0.1:$hport/healthz" "https://127.0.0.1:$sport/healthz" \
           "https://127.0.0.1:$nport/healthz"; do
  for _ in $(seq 200); do
    curl -sf --cacert "$work/ca.pem" "$url" >/dev/null && break
    sleep 0.05
  done
  curl -sf --cacert "$work/ca.pem" "$url" >/dev/null || { echo "no answer from $url" >&2; exit 1; }
done

measure() { # $1 = url, $2 = keep|close|mixed; prints "rps p99 load1"
  local extra=() out rps p99
  [ "$2" = close ] && extra=(-H "Connection: close")
  if [ "$2" = mixed ]; then
    out=$(wrk -t2 -c64 -d"$duration" --latency -s tests/bench/mixed.lua "${1%/healthz}")
    read -r p99 rps < <(echo "$out" |
      sed -n 's/^mixed-latency p50_ms=[^ ]* p99_ms=\([^ ]*\) max_ms=[^ ]* rps=\([^ ]*\) .*/\1ms \2/p')
    if ! echo "$out" | grep -q '^mixed-total .* unexpected=0 '; then
      echo "mixed load against $1: unexpected statuses" >&2
      echo "$out" >&2
      exit 1
    fi
  else
    out=$(wrk -t2 -c64 -d"$duration" --latency "${extra[@]}" "$1")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  fi
  echo "$rps $p99 $(cut -d' ' -f1 /proc/loadavg)"
}
to_ms() { # wrk latency like 1.23ms / 456.00us / 1.2s
  /usr/bin/python3 -c 'import sys; v=sys.argv[1]
for u,f in (("us",1e-3),("ms",1.0),("s",1e3)):
    if v.endswith(u): print("%.2f" % (float(v[:-len(u)])*f)); break' "$1"
}

rows=()
for mode in keep close mixed; do
  for target in "tessera HTTP|http://127.0.0.1:$hport/healthz" \
                "tessera native HTTPS|https://127.0.0.1:$sport/healthz" \
                "nginx TLS -> tessera HTTP|https://127.0.0.1:$nport/healthz"; do
    IFS='|' read -r name url <<<"$target"
    read -r rps p99 load1 <<<"$(measure "$url" "$mode")"
    rows+=("$name ($mode)|$rps|$p99|$load1")
  done
done

printf '\nwrk -t2 -c64 -d%s, loopback, %s cores, load average %s\n' "$duration" "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %12s %10s %10s %8s\n' "GET /healthz; (mixed) = mixed.lua" "requests/s" "p99 ms" \
  "vs HTTP" "load 1m"
base_keep="" base_close="" base_mixed=""
for row in "${rows[@]}"; do
  IFS='|' read -r name rps p99 load1 <<<"$row"
  case "$name" in
    "tessera HTTP (keep)") base_keep=$rps ;;
    "tessera HTTP (close)") base_close=$rps ;;
    "tessera HTTP (mixed)") base_mixed=$rps ;;
  esac
  base=$base_keep
  [[ "$name" == *"(close)" ]] && base=$base_close
  [[ "$name" == *"(mixed)" ]] && base=$base_mixed
  ratio=$(/usr/bin/python3 -c "print('%.2fx' % ($rps / $base))")
  printf '%-40s %12s %10s %10s %8s\n' "$name" "$rps" "$(to_ms "$p99")" "$ratio" "$load1"
done
