-- Customers, device tokens, email follow-up, resume links and agent notices.

-- A customer: the person behind one or more conversations, on one or more
-- devices. The email is what they gave the widget (unverified: nothing is
-- merged by it); mail about missed replies goes there until they
-- unsubscribe.
CREATE TABLE customers (
    id              TEXT    PRIMARY KEY NOT NULL,       -- u_ + 32 hex
    email           TEXT    COLLATE NOCASE,
    unsubscribed_at INTEGER,                            -- Unix ms; NULL: subscribed
    created_at      INTEGER NOT NULL                    -- Unix ms
) STRICT;

CREATE INDEX customers_by_email ON customers (email) WHERE email IS NOT NULL;

ALTER TABLE conversations ADD COLUMN customer_id TEXT REFERENCES customers (id);

-- Until now every conversation was its own customer.
INSERT INTO customers (id, email, created_at)
    SELECT 'u_' || substr(id, 3), customer_email, created_at FROM conversations;
UPDATE conversations SET customer_id = 'u_' || substr(id, 3);

CREATE INDEX conversations_by_customer ON conversations (customer_id, last_activity_at);

-- Bearer tokens of the customer API: each opens one conversation of one
-- customer on one device, and lists the customer's others. Stored hashed.
-- (conversations.token_hash keeps the hash of the token that started the
-- conversation; lookups use this table.)
CREATE TABLE customer_tokens (
    token_hash      BLOB    PRIMARY KEY NOT NULL,
    customer_id     TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO customer_tokens (token_hash, customer_id, conversation_id, created_at)
    SELECT token_hash, customer_id, id, created_at FROM conversations;

CREATE INDEX customer_tokens_by_conversation ON customer_tokens (conversation_id);

-- Follow-up of agent replies: when the customer has not seen a reply by
-- followup_due_at, the replies after emailed_seq are emailed together.
ALTER TABLE conversations ADD COLUMN followup_due_at INTEGER;
ALTER TABLE conversations ADD COLUMN emailed_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX conversations_by_followup ON conversations (followup_due_at)
    WHERE followup_due_at IS NOT NULL;

-- Single-use links that restore a customer's conversations on a device.
CREATE TABLE resume_links (
    code_hash   BLOB    PRIMARY KEY NOT NULL,
    customer_id TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX resume_links_by_customer ON resume_links (customer_id, created_at);

-- Requests for a resume link, taken the same way for any address and
-- answered (or not) by the mail worker.
CREATE TABLE resume_requests (
    id         INTEGER PRIMARY KEY,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Unsubscribe links: a code per email sent, for a customer or an agent.
CREATE TABLE unsubscribe_codes (
    code_hash   BLOB    PRIMARY KEY NOT NULL,
    customer_id TEXT    REFERENCES customers (id) ON DELETE CASCADE,
    agent_id    TEXT    REFERENCES agents (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CHECK ((customer_id IS NULL) <> (agent_id IS NULL))
) STRICT, WITHOUT ROWID;

-- Agents are emailed about new customer messages while away from the
-- inbox: at notify_due_at, about messages after notified_position.
ALTER TABLE agents ADD COLUMN email_notifications INTEGER NOT NULL DEFAULT 1;
ALTER TABLE agents ADD COLUMN notify_due_at INTEGER;
ALTER TABLE agents ADD COLUMN notified_position INTEGER NOT NULL DEFAULT 0;
UPDATE agents SET notified_position = coalesce((SELECT max(position) FROM messages), 0);

-- Outgoing mail, kept until an SMTP server has accepted it.
CREATE TABLE mail_queue (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT,
    unsubscribe_url TEXT,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_at         INTEGER,
    failed_at       INTEGER                   -- given up (refused for good, or too old)
) STRICT;

CREATE INDEX mail_queue_pending ON mail_queue (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
