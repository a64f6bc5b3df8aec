# report.sh - sourced by tests/abuse/run.sh and tests/bench/soak.sh: a work directory
# (removed on exit unless KEEP=1), the processes to kill on exit, and the goals table.
#   report_init NAME FIRST_COLUMN   sets work, pids, srv_pid, results; installs the traps
#   record ROW CHECK MEASURED GOAL OK(0/1)   one line of the table
#   eq A B                          1 when A = B (strings), else 0
#   report_finish                   prints the table; exits 1 when a goal was missed

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
