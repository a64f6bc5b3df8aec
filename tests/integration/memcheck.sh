#!/usr/bin/env bash
# Run one integration test with every server it starts under valgrind memcheck.
# Usage: tests/integration/memcheck.sh ITEST_BINARY
# The server's own output stays clean (valgrind writes to one log per process); a server
# with a memory error or a definite leak exits 99, which fails the test's exit-status check,
# and this script also fails when any log reports an error, printing those logs.
# ctest runs it for every itest under the label "memcheck" (scripts/test.sh runs that label).
set -euo pipefail
test_bin=$1
logs=$(mktemp -d /tmp/tessera-memcheck-XXXXXX)
trap 'rm -rf "$logs"' EXIT
export TESSERA_ITEST_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite --log-file=$logs/%p.log"
status=0
"$test_bin" || status=$?
bad=0
for log in "$logs"/*.log; do
  [ -e "$log" ] || continue
  # valgrind 3.19 does not know openat2 (syscall 437): the server then takes its
  # documented fallback (core/confine.c). That warning is not a memory error.
  if grep -vE 'unhandled amd64-linux syscall: 437|write your own handler|README_MISSING_SYSCALL|we consider this a bug|valgrind.org/support/bug_reports' "$log" |
     grep -qE '^==[0-9]+== [^ ]'; then
    echo "--- $(basename "$log")" >&2
    cat "$log" >&2
    bad=1
  fi
done
n=$(find "$logs" -name '*.log' | wc -l)
echo "memcheck: $n server processes checked, test exit $status, $([ $bad = 0 ] && echo 'no' || echo 'SOME') valgrind reports"
[ "$status" -eq 0 ] && [ "$bad" -eq 0 ]
