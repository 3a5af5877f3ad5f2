-- The inbox: a conversation's status and assignee, what we know of its
-- customer, how long they have waited, internal notes, and search.

-- 'open' or 'closed'; a customer message to a closed conversation opens it.
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'closed'));
ALTER TABLE conversations ADD COLUMN closed_at INTEGER;          -- Unix ms; NULL while open
ALTER TABLE conversations ADD COLUMN assignee_id TEXT REFERENCES agents (id);
-- Set by an identify API (later); NULL until the customer tells us.
ALTER TABLE conversations ADD COLUMN customer_name TEXT;
ALTER TABLE conversations ADD COLUMN customer_email TEXT;
-- Recorded when the conversation starts (lengths capped by the server).
ALTER TABLE conversations ADD COLUMN page_url TEXT;
ALTER TABLE conversations ADD COLUMN user_agent TEXT;
ALTER TABLE conversations ADD COLUMN language TEXT;
-- Unix ms of the oldest customer message not yet followed by an agent or
-- bot message; NULL when the last word is ours. Kept by the appender.
ALTER TABLE conversations ADD COLUMN waiting_since INTEGER;

UPDATE conversations SET waiting_since = (
    SELECT min(m.created_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.author = 'customer'
      AND m.seq > coalesce((SELECT max(r.seq) FROM messages r
                            WHERE r.conversation_id = conversations.id
                              AND r.author IN ('agent', 'bot')), 0)
);

-- Which agent wrote an inbox reply (NULL for customers, bots, and replies
-- through the agent API key).
ALTER TABLE messages ADD COLUMN agent_id TEXT REFERENCES agents (id);

-- Internal notes: agents only. They are not messages, so they take no seq
-- (customers rely on gapless seqs) and no customer route ever reads them.
CREATE TABLE notes (
    id              TEXT    PRIMARY KEY NOT NULL,   -- n_ + 32 hex
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    agent_id        TEXT    NOT NULL REFERENCES agents (id),
    client_id       TEXT    NOT NULL,               -- sender-generated idempotency key
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,               -- Unix ms
    UNIQUE (conversation_id, agent_id, client_id)
) STRICT;

CREATE INDEX notes_by_conversation ON notes (conversation_id, created_at);

-- Full-text search over message bodies: a contentless FTS5 index keyed by
-- the message's position (stable, unlike the implicit rowid, which VACUUM
-- may renumber), kept in step by triggers.
CREATE VIRTUAL TABLE message_search USING fts5 (
    body, content = '', tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO message_search (rowid, body) SELECT position, body FROM messages;

CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, body) VALUES (new.position, new.body);
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, body) VALUES ('delete', old.position, old.body);
END;

CREATE INDEX conversations_by_assignee ON conversations (assignee_id);
