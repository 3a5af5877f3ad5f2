#!/usr/bin/env bash
# Installs what is missing and runs every test: formatting, clippy (native
# and wasm32, warnings are errors), unit and integration tests, the server's
# tests again on a throwaway PostgreSQL cluster, the widget's release build
# and size budgets, and the browser end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "setup"
scripts/setup.sh --e2e --postgres

step "cargo fmt --check"
cargo fmt --all --check

step "clippy (native crates)"
cargo clippy -p messenger-wire -p messenger-server -p messenger-bench -p messenger-tools --all-targets --locked -- -D warnings

step "clippy (wasm32 crates)"
cargo clippy -p messenger-wire -p messenger-client -p messenger-widget -p messenger-inbox --target wasm32-unknown-unknown --locked -- -D warnings

step "unit and integration tests, the server's on SQLite then on PostgreSQL"
# One throwaway PostgreSQL cluster for both runs (scripts/with-postgres.sh,
# MESSENGER_TEST_POSTGRES_URL): the first run keeps the server's tests on
# SQLite files, but for those about several instances and the copy to
# PostgreSQL, which need the cluster; the second (MESSENGER_TEST_ENGINE=
# postgres) runs the server's whole suite again on PostgreSQL, each test in
# a schema of its own. Both runs test the same packages: `-p
# messenger-server` alone would unify features differently and compile half
# the dependency tree again, where the other packages' tests take a second.
packages=(-p messenger-wire -p messenger-server -p messenger-widget -p messenger-bench -p messenger-tools)
scripts/with-postgres.sh bash -c '
  set -euo pipefail
  cargo test "$@" --locked
  printf "\n==> the server suite again, on PostgreSQL\n"
  MESSENGER_TEST_ENGINE=postgres cargo test "$@" --locked
' with-postgres "${packages[@]}"

step "widget release build"
scripts/build-widget.sh

step "size budgets"
node scripts/size-report.mjs dist

step "browser end-to-end tests (headless Chromium)"
# The server binary that `cargo test` built above for its own integration
# tests; building it alone would unify features differently and compile
# the dependency tree a second time.
server_bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/messenger-server"
test -x "$server_bin" || cargo build -p messenger-server --locked
(cd tests/e2e && MESSENGER_SERVER_BIN="$server_bin" npm test)
