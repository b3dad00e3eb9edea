#!/usr/bin/env bash
# The README's test command: every test on SQLite (the default backend), then Hotline's
# own tests (store, end-to-end) again on PostgreSQL. A PostgreSQL that cannot be reached
# fails the run with a message; it is never skipped.
#
# PostgreSQL: HOTLINE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# names a server where the tests may create and drop databases (one per test).
set -euo pipefail
cd "$(dirname "$0")/.."

# With cargo-nextest installed (CI's machines have it), the tests run through it: every
# test in a process of its own, all binaries scheduled together (.config/nextest.toml),
# which halves the wall time of the suite. The crates carry no Rust doctests (their code
# blocks are JSON and text), so nothing is lost by nextest not running them.
# HOTLINE_TEST_RUNNER=cargo forces plain `cargo test`.
run_tests() {
  if [ "${HOTLINE_TEST_RUNNER:-}" != cargo ] && cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked "$@"
  else
    cargo test --locked "$@"
  fi
}

echo "== tests on SQLite"
run_tests --workspace "$@"

url="${HOTLINE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
echo "== tests on PostgreSQL (${url##*@})"
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -d "$url"; then
  echo "error: PostgreSQL at ${url##*@} is unreachable; the PostgreSQL half of the suite" >&2
  echo "cannot run. Start it (.ci/run installs and starts one) or set HOTLINE_TEST_POSTGRES_URL." >&2
  exit 1
fi
HOTLINE_TEST_DATABASE=postgres HOTLINE_TEST_POSTGRES_URL="$url" \
  run_tests -p hotline "$@"
