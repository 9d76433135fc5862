#!/usr/bin/env bash
# The REST API fuzzed from its own OpenAPI document by schemathesis: every
# operation gets generated requests, valid and not (at least 1,000 in
# all); none may answer 5xx, and the server must log no panic.
#
# The fuzzer makes webhooks to whatever URLs it invents and the server
# delivers to them, so both run in a network namespace of their own with
# only loopback up: a connection anywhere else fails at once and no
# packet leaves this machine.
#
# Usage: tools/fuzz-api.sh [path/to/postback]   (default target/debug/postback)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:-$root/target/debug/postback}")
fuzz="$root/target/fuzz-venv/bin/schemathesis"
[ -x "$fuzz" ] || { echo "schemathesis is missing: run tools/install.sh test" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DATABASE_URL="sqlite://$work/postback.db?mode=rwc"
export RUST_LOG=warn NO_COLOR=1
key=$("$bin" api-key create --name fuzz)

# Inside the namespace: loopback up, the server, the fuzzer, the verdict.
export bin fuzz key work
unshare -n bash -euo pipefail -c '
  cd "$work"
  ip link set lo up
  "$bin" serve --addr 127.0.0.1:3299 >"$work/server.log" 2>&1 &
  server=$!
  set +e
  "$fuzz" run http://127.0.0.1:3299/api/v1/openapi.json \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error \
    --max-examples 100 --seed 17 --workers 2 \
    --wait-for-schema 60 --request-timeout 30 \
    --generation-database none --no-color \
    --report junit --report-junit-path "$work/report.xml" \
    >"$work/fuzz.log" 2>&1
  status=$?
  set -e
  kill "$server"; wait "$server" || true
  exit $status
' && passed=yes || passed=no

tail -n 60 "$work/fuzz.log"
cases=$(grep -o '[0-9]\+ generated' "$work/fuzz.log" | head -n 1 | grep -o '[0-9]\+' || echo 0)
echo "fuzz-api: $cases generated test cases"
if grep -q 'panicked' "$work/server.log"; then
  echo "fuzz-api: the server panicked:" >&2
  grep -B2 -A8 'panicked' "$work/server.log" >&2
  exit 1
fi
[ "$passed" = yes ] || { echo "fuzz-api: schemathesis found failures (above)" >&2; exit 1; }
[ "$cases" -ge 1000 ] || { echo "fuzz-api: only $cases cases; at least 1,000 are required" >&2; exit 1; }
echo "fuzz-api: passed"
