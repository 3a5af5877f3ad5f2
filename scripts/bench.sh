#!/usr/bin/env bash
# Builds the release server and the benchmark, then measures the server's
# durable message throughput, with group commit on and off, next to raw
# SQLite on the same disk, and the delivery latency from a message's
# acknowledgement to its open streams.
#   bash scripts/bench.sh                                  # both (`all`), default settings
#   bash scripts/bench.sh --senders 16 --duration 5 --streams 200 --json bench.json
#   bash scripts/bench.sh latency --rate 500               # only one part: throughput | latency | all
#   bash scripts/bench.sh suite --json server.json --md server.md   # every server measure, with budgets
# Arguments go to `messenger-bench all` (or to the subcommand named first); see its --help.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# Hundreds of open streams need file descriptors, in the bench and in the
# server it starts (which inherits the limit).
# `suite` opens tens of thousands (it raises its own limit further with
# prlimit when it may).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Two builds, so the server is built with exactly its own features.
cargo build --release -p messenger-server
cargo build --release -p messenger-bench
target_dir="${CARGO_TARGET_DIR:-target}"
if commit=$(git log -1 --oneline 2>/dev/null); then
    git diff --quiet HEAD -- 2>/dev/null || commit+=" + uncommitted changes"
    echo "measuring $commit" >&2
fi
subcommand=all
case "${1:-}" in
    throughput | latency | all | suite) subcommand=$1; shift ;;
esac
exec "$target_dir/release/messenger-bench" "$subcommand" --server-bin "$target_dir/release/messenger-server" "$@"
