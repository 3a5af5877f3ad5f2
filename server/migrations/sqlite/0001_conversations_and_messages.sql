-- Conversations are addressed by customers through a bearer token of which
-- only the SHA-256 hash is stored; agents address them by id.
CREATE TABLE conversations (
    id               TEXT    PRIMARY KEY NOT NULL,
    token_hash       BLOB    NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,           -- Unix ms
    last_activity_at INTEGER NOT NULL,           -- Unix ms of the latest message
    last_seq         INTEGER NOT NULL DEFAULT 0  -- seq of the latest message
) STRICT;

-- Agents list conversations by last activity, newest first (keyset paging).
CREATE INDEX conversations_by_activity ON conversations (last_activity_at DESC, id DESC);

CREATE TABLE messages (
    id              TEXT    PRIMARY KEY NOT NULL,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,            -- 1, 2, 3 ... per conversation
    author          TEXT    NOT NULL CHECK (author IN ('customer', 'agent', 'bot', 'system')),
    client_id       TEXT,                        -- sender-generated idempotency key
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,            -- Unix ms
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, author, client_id)
) STRICT;
