# report.sh - sourced by tests/abuse/run.sh and tests/bench/soak.sh: a work directory
# (removed on exit unless KEEP=1), the processes to kill on exit, and the goals table.
#   report_init NAME FIRST_COLUMN   sets work, pids, srv_pid, results; installs the traps
#   record ROW CHECK MEASURED GOAL OK(0/1)   one line of the table
#   eq A B                          1 when A = B (strings), else 0
#   report_finish                   prints the table; exits 1 when a goal was missed
#   tls_setup 0|1                   the scheme, and with 1 a private CA and certificate

report_init() {
  work=$(mktemp -d "/tmp/tessera-$1.XXXXXX")
  report_column=$2
  pids=()
  srv_pid=""
  results="$work/results" # row|check|measured|goal|verdict
  : >"$results"
  trap report_cleanup EXIT
  trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317 # called by the EXIT trap
report_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$srv_pid" ]; then kill -KILL "$srv_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}

record() {
  local verdict=PASS
  [ "$5" = 1 ] || verdict=FAIL
  printf '%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$verdict" >>"$results"
}

eq() { [ "$1" = "$2" ] && echo 1 || echo 0; }

# The results file decides (record may run in a subshell, where a variable would not stick).
report_finish() {
  echo
  echo "== summary"
  {
    echo "$report_column|check|measured|goal|verdict"
    cat "$results"
  } | column -t -s'|' -o '  '
  echo
  if ! grep -q '|FAIL$' "$results"; then
    echo "all goals met"
    exit 0
  fi
  echo "goals missed: $(grep -c '|FAIL$' "$results")"
  exit 1
}

# tls_setup 0|1: with 1 (--tls), a private CA and a server certificate for 127.0.0.1 made
# here with openssl (EC P-256, valid 2 days) in $work, and
#   scheme=https  tls_ca=$work/ca.pem  tls_flags=(--tls-cert .. --tls-key ..)
#   curl_tls=(--cacert $work/ca.pem)  probe_tls=(--tls-ca $work/ca.pem)
# with 0, scheme=http and the others empty.
# shellcheck disable=SC2034 # the variables are for the scripts that source this file
tls_setup() {
  scheme=http tls_ca="" tls_flags=() curl_tls=() probe_tls=()
  [ "$1" = 1 ] || return 0
  command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 2; }
  local d="$work/tls"
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=abuse test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial 1 \
    -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
  scheme=https
  tls_ca="$d/ca.pem"
  tls_flags=(--tls-cert "$d/server.pem" --tls-key "$d/server.key")
  curl_tls=(--cacert "$tls_ca")
  probe_tls=(--tls-ca "$tls_ca")
}
