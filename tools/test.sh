#!/usr/bin/env bash
# The README's test command: every test on SQLite (the default backend), then Hotline's
# own tests (store, end-to-end) again on PostgreSQL. A PostgreSQL that cannot be reached
# fails the run with a message; it is never skipped.
#
# PostgreSQL: HOTLINE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# names a server where the tests may create and drop databases (one per test).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tests on SQLite"
cargo test --workspace --locked "$@"

url="${HOTLINE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
echo "== tests on PostgreSQL (${url##*@})"
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -d "$url"; then
  echo "error: PostgreSQL at ${url##*@} is unreachable; the PostgreSQL half of the suite" >&2
  echo "cannot run. Start it (.ci/run installs and starts one) or set HOTLINE_TEST_POSTGRES_URL." >&2
  exit 1
fi
HOTLINE_TEST_DATABASE=postgres HOTLINE_TEST_POSTGRES_URL="$url" \
  cargo test -p hotline --locked "$@"
