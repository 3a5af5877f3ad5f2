-- Every message gets a global position: 1, 2, 3 ... across all conversations,
-- in commit order, only growing. The agent stream resumes from it (its SSE
-- event id). It is an explicit column, not the implicit rowid, which VACUUM
-- may renumber.
--
-- SQLite cannot add a NOT NULL column without a default, so the table is
-- rebuilt (https://sqlite.org/lang_altertable.html#otheralter). Existing
-- messages are numbered in rowid order, the order they were inserted in by
-- the single writer. Nothing references `messages`, so dropping the old
-- table is safe with foreign keys on.
CREATE TABLE messages_new (
    id              TEXT    PRIMARY KEY NOT NULL,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,            -- 1, 2, 3 ... per conversation
    author          TEXT    NOT NULL CHECK (author IN ('customer', 'agent', 'bot', 'system')),
    client_id       TEXT,                        -- sender-generated idempotency key
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,            -- Unix ms
    position        INTEGER NOT NULL CHECK (position > 0), -- global, in commit order
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, author, client_id)
) STRICT;

INSERT INTO messages_new (id, conversation_id, seq, author, client_id, body, created_at, position)
SELECT id, conversation_id, seq, author, client_id, body, created_at,
       row_number() OVER (ORDER BY rowid)
FROM messages;

DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

-- Catch-up reads `position > ? ORDER BY position`; the writer reads max(position).
CREATE UNIQUE INDEX messages_by_position ON messages (position);
