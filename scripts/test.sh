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

step "unit and integration tests"
cargo test -p messenger-wire -p messenger-server -p messenger-widget -p messenger-bench -p messenger-tools --locked

step "server tests on PostgreSQL"
# The server's suite again, each test in a schema of its own on a cluster
# that lives as long as the command (MESSENGER_TEST_POSTGRES_URL). The same
# packages as above: `-p messenger-server` alone would unify features
# differently and compile half the dependency tree again (about 170 crates),
# where the other packages' 60 unit tests take a second.
scripts/with-postgres.sh cargo test -p messenger-wire -p messenger-server -p messenger-widget -p messenger-bench -p messenger-tools --locked

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
