#!/usr/bin/env bash
# The whole benchmark suite of issue 8, in one run on this machine, into one
# report (markdown and JSON) with every budget:
#   bash scripts/bench-suite.sh                    # report in target/bench-report/
#   bash scripts/bench-suite.sh --out /tmp/report  # elsewhere
# Parts, in order (each can also be run alone, see README "Benchmarks"):
#   1. weight of the loader and of everything the open panel loads   (scripts/size-report.mjs)
#   2. Lighthouse on a reference host page with and without the widget, and the
#      time from a click on the launcher to the last 50 messages      (bench/web/run.mjs)
#   3. the server: durable messages/s next to raw SQLite, delivery latency with
#      many open streams, idle streams and memory, history paging at 1,000,000
#      messages, idle memory and start-up time                         (messenger-bench suite)
# Extra arguments for a part: WEB_ARGS="--runs 9" SERVER_ARGS="--streams 5000".
# Run it on an otherwise idle machine: every part measures time.
# Exit status: 0 when every budget is met, 1 when one is missed or a part could
# not measure (the report says which), 2 on a build failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

out=target/bench-report
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --out=*) out=${1#--out=}; shift ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "bench-suite: unknown argument $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/{size,web,server,report}.{json,md} "$out/machine.json"

# Release builds of exactly what is measured: the widget as it ships, the
# server and the load generator.
target_dir="${CARGO_TARGET_DIR:-target}"
dist="${DIST:-dist}"
{
    DIST="$dist" bash scripts/build-widget.sh
    cargo build --release --locked -p messenger-server
    cargo build --release --locked -p messenger-bench
    npm ci --prefix bench/web --no-audit --no-fund
} || { echo "bench-suite: build failed" >&2; exit 2; }

commit=$(git log -1 --format='%h %s' 2>/dev/null || echo unknown)
git diff --quiet HEAD -- 2>/dev/null || commit+=" + uncommitted changes"
node -e '
  const [commit, cpu, cores, memory, kernel, disk, chromium, rustc] = process.argv.slice(1);
  console.log(JSON.stringify({ date: new Date().toISOString(), commit, cpu, cores: Number(cores), memory, kernel, disk, chromium, rustc }, null, 2));
' "$commit" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    "$(nproc)" \
    "$(free -h | awk '/^Mem:/ {print $2 " RAM"}')" \
    "$(uname -sr)" \
    "$(df -h "${TMPDIR:-/tmp}" | awk 'NR==2 {print $1 ", " $4 " free"}')" \
    "$( (chromium --version 2>/dev/null || echo 'chromium not found') | head -1)" \
    "$(rustc --version)" > "$out/machine.json"

status=0
echo "== 1/3 weight" >&2
node scripts/size-report.mjs "$dist" --json "$out/size.json" > "$out/size.md" || status=1

echo "== 2/3 host page and panel in Chromium" >&2
# shellcheck disable=SC2086 # WEB_ARGS is a list of arguments
node bench/web/run.mjs --server-bin "$target_dir/release/messenger-server" --assets "$dist" \
    --json "$out/web.json" --md "$out/web.md" ${WEB_ARGS:-} || status=1

echo "== 3/3 server" >&2
# shellcheck disable=SC2086 # SERVER_ARGS is a list of arguments
bash scripts/bench.sh suite --json "$out/server.json" --md "$out/server.md" ${SERVER_ARGS:-} || status=1

node scripts/bench-report.mjs "$out" || status=1
exit $status
