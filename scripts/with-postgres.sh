#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster, then deletes the cluster.
#
#   scripts/with-postgres.sh CMD [ARGS...]
#   scripts/with-postgres.sh cargo test -p messenger-server --locked
#   scripts/with-postgres.sh sh -c 'psql "$MESSENGER_TEST_POSTGRES_URL"'
#
# Creates a cluster in a fresh temporary directory, starts it on a free port
# of 127.0.0.1 (its unix socket inside that directory, so it never meets a
# running PostgreSQL service), exports
#   MESSENGER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres
# (a superuser, trust authentication: the cluster is reachable from this
# machine only and lives as long as the command), runs the command, stops the
# cluster and deletes its directory whatever happens, and exits with the
# command's status. Quiet unless something goes wrong.
#
# The server binaries are Debian's (/usr/lib/postgresql/VERSION/bin, the
# newest version present); if there are none, Debian's `postgresql` package
# is installed (as root). initdb refuses to run as root, so as root the
# cluster runs as the `postgres` user (created if missing); otherwise as the
# calling user.
#
# Settings for a throwaway cluster: no fsync nor synchronous commit (a crash
# loses the cluster, which is deleted anyway), 500 connections (the test
# suite opens many pools at once), the C locale (text sorts bytewise, as in
# SQLite).
#
# Environment (optional):
#   MESSENGER_PG_BINDIR  a directory holding initdb and pg_ctl: use it, no search
#   MESSENGER_PG_ROOT    where to look for VERSION/bin (default /usr/lib/postgresql)
set -euo pipefail

me=with-postgres
pg_root="${MESSENGER_PG_ROOT:-/usr/lib/postgresql}"
# Seconds to wait for the server to start and to accept connections.
start_timeout=60

fail() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

[ $# -gt 0 ] || fail "usage: scripts/with-postgres.sh CMD [ARGS...]"

# The newest VERSION/bin under $pg_root holding initdb and pg_ctl, if any.
find_bindir() {
  local dir
  while IFS= read -r dir; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/pg_isready" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done < <(printf '%s\n' "$pg_root"/*/bin | sort -rV)
  return 1
}

if [ -n "${MESSENGER_PG_BINDIR:-}" ]; then
  bindir="$MESSENGER_PG_BINDIR"
  [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] && [ -x "$bindir/pg_isready" ] \
    || fail "MESSENGER_PG_BINDIR=$bindir holds no initdb, pg_ctl and pg_isready"
elif ! bindir=$(find_bindir); then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "no PostgreSQL server under $pg_root/*/bin; install it (as root: apt-get install postgresql) or set MESSENGER_PG_BINDIR"
  fi
  printf '%s: no PostgreSQL server under %s; installing Debian'\''s postgresql package\n' "$me" "$pg_root" >&2
  apt_log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    rm -f "$apt_log"
    fail "installing postgresql failed (output above)"
  fi
  rm -f "$apt_log"
  bindir=$(find_bindir) || fail "installed postgresql, but found no initdb and pg_ctl under $pg_root/*/bin"
fi

# Who runs the server: initdb and postgres refuse root.
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  pg_user=postgres
  if ! id -u "$pg_user" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$pg_user" \
      || fail "could not create the $pg_user user to run PostgreSQL as"
  fi
  run_as=(runuser -u "$pg_user" --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/messenger-pg.XXXXXX") || fail "could not create a temporary directory"
data="$dir/data"
log="$dir/server.log"
child=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -f "$data/postmaster.pid" ]; then
    # Fast: ends the sessions the command left open; immediate if that hangs.
    (cd "$dir" && "${run_as[@]}" "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 30 >/dev/null 2>&1) \
      || (cd "$dir" && "${run_as[@]}" "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 30 >/dev/null 2>&1) \
      || printf '%s: could not stop the PostgreSQL server in %s\n' "$me" "$dir" >&2
  fi
  rm -rf "$dir"
  exit "$status"
}
# A signal goes on to the command; the cluster is removed once it has ended.
on_signal() {
  local signal=$1 code=$2
  if [ -n "$child" ]; then
    kill "-$signal" "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

if [ ${#run_as[@]} -gt 0 ]; then
  chown "$pg_user:" "$dir"
  "${run_as[@]}" test -w "$dir" \
    || fail "$pg_user cannot write to $dir (a parent directory it cannot enter? set TMPDIR)"
fi

# Run from the cluster's directory: the postgres user may not be allowed
# into the caller's working directory.
as_pg() { (cd "$dir" && "${run_as[@]}" "$@"); }

if ! as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
     --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
  cat "$dir/initdb.log" >&2
  fail "initdb failed (output above)"
fi
cat >>"$data/postgresql.conf" <<EOF

# scripts/with-postgres.sh: a throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 500
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
EOF

# A free port: the server's own bind is the test (asking the kernel for a
# free port first would race with other processes just the same). Ports
# below the kernel's ephemeral range (32768 and up) never collide with
# outgoing connections.
port=""
for _ in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 12000))
  if as_pg "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t "$start_timeout" \
       -o "-p $candidate" >/dev/null 2>&1; then
    port=$candidate
    break
  fi
  grep -q -e 'could not bind' -e 'could not create any TCP/IP sockets' "$log" 2>/dev/null \
    || { tail -n 20 "$log" >&2 2>/dev/null || true; fail "the PostgreSQL server did not start (log above)"; }
  : >"$log"
done
[ -n "$port" ] || fail "found no free port for PostgreSQL after 20 tries"

# pg_ctl -w waited for the server to be up; check TCP too, with a deadline.
deadline=$((SECONDS + start_timeout))
until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail -n 20 "$log" >&2 || true
    fail "PostgreSQL on 127.0.0.1:$port did not accept connections within ${start_timeout}s (log above)"
  fi
  sleep 0.1
done

export MESSENGER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"

# In the background so that a signal reaches the trap at once. A background
# job would ignore SIGINT and SIGQUIT and read /dev/null: `trap -` and <&0
# give the command the signals and the standard input it would have had.
(trap - INT QUIT; exec "$@") <&0 &
child=$!
status=0
wait "$child" || status=$?
child=""
exit "$status"
