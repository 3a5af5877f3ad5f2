#!/usr/bin/env bash
# Builds the release server and the benchmark, then measures the server's
# durable message throughput next to raw SQLite on the same disk.
#   bash scripts/bench.sh                                  # defaults: 64 senders, 200 conversations, 10 s
#   bash scripts/bench.sh --senders 16 --duration 5 --json bench.json
# Every argument goes to `messenger-bench throughput` (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Two builds, so the server is built with exactly its own features.
cargo build --release -p messenger-server
cargo build --release -p messenger-bench
target_dir="${CARGO_TARGET_DIR:-target}"
if commit=$(git log -1 --oneline 2>/dev/null); then
    git diff --quiet HEAD -- 2>/dev/null || commit+=" + uncommitted changes"
    echo "measuring $commit" >&2
fi
exec "$target_dir/release/messenger-bench" throughput --server-bin "$target_dir/release/messenger-server" "$@"
