#!/usr/bin/env bash
# Sets up and runs the whole product on this machine: installs what is
# missing, builds the widget (release) and the server, and starts the server
# on the SQLite file data/messenger.db with a demo host page on another port.
#
#   PORT=8080 DEMO_PORT=8090 scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

PORT=${PORT:-8080}
DEMO_PORT=${DEMO_PORT:-8090}

scripts/setup.sh
scripts/build-widget.sh
cargo build --release -p messenger-server

# The agent API key: generated once, kept in data/ (readable only by you).
mkdir -p data
if [ ! -s data/agent-api-key ]; then
  (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' > data/agent-api-key)
fi
export MESSENGER_AGENT_API_KEY="${MESSENGER_AGENT_API_KEY:-$(cat data/agent-api-key)}"

# The first admin of the inbox: created once, its password kept in data/
# (readable only by you). Change it in the inbox, or make others with
# `target/release/messenger-server create-admin --email E --name N`.
ADMIN_EMAIL=${ADMIN_EMAIL:-admin@example.com}
if [ ! -s data/admin-password ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' > data/admin-password)
  MESSENGER_ADMIN_PASSWORD="$(cat data/admin-password)" target/release/messenger-server \
    create-admin --email "$ADMIN_EMAIL" --name Admin --database data/messenger.db
fi

cat <<INFO

The messenger is starting.
Inbox: http://127.0.0.1:$PORT/inbox/  (sign in as $ADMIN_EMAIL, password in data/admin-password)
Or reply through the agent API, in another terminal:
  KEY=\$(cat data/agent-api-key)
  curl -s -H "Authorization: Bearer \$KEY" http://127.0.0.1:$PORT/api/v1/agent/conversations
  curl -s -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    -d '{"client_id":"'\$(date +%s%N)'","body":"Hello from support"}' \\
    http://127.0.0.1:$PORT/api/v1/agent/conversations/CONVERSATION_ID/messages
Stop with Ctrl-C.

INFO
exec target/release/messenger-server \
  --addr "127.0.0.1:$PORT" \
  --database data/messenger.db \
  --assets dist \
  --demo-addr "127.0.0.1:$DEMO_PORT"
