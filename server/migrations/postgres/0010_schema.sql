-- The schema of SQLite migrations 0001 to 0010, for PostgreSQL (its own
-- migrations start here, at the same version, so that both engines read
-- the same numbers from then on). Types: TEXT, BIGINT (Unix ms, counters,
-- 0/1 flags, as in SQLite), BYTEA for hashes. Email columns compare without
-- regard to case, as SQLite's COLLATE NOCASE does.

CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE agents (
    id                  TEXT   PRIMARY KEY NOT NULL,
    email               TEXT   COLLATE nocase NOT NULL UNIQUE,
    name                TEXT   NOT NULL,
    password_hash       TEXT   NOT NULL,
    role                TEXT   NOT NULL CHECK (role IN ('admin', 'agent')),
    disabled_at         BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    email_notifications BIGINT NOT NULL DEFAULT 1,
    notify_due_at       BIGINT,
    notified_position   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE agent_sessions (
    id           TEXT   PRIMARY KEY NOT NULL,
    token_hash   BYTEA  NOT NULL UNIQUE,
    agent_id     TEXT   NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX agent_sessions_by_agent ON agent_sessions (agent_id);

CREATE TABLE sites (
    id                TEXT   PRIMARY KEY NOT NULL,
    key               TEXT   NOT NULL UNIQUE,
    name              TEXT   NOT NULL,
    allowed_origins   TEXT   NOT NULL DEFAULT '[]',
    color             TEXT   NOT NULL DEFAULT '#2563eb',
    position          TEXT   NOT NULL DEFAULT 'right' CHECK (position IN ('left', 'right')),
    offset_x          BIGINT NOT NULL DEFAULT 20,
    offset_y          BIGINT NOT NULL DEFAULT 20,
    z_index           BIGINT NOT NULL DEFAULT 2147483000,
    default_language  TEXT   NOT NULL DEFAULT 'en',
    texts             TEXT   NOT NULL DEFAULT '{}',
    identity_required BIGINT NOT NULL DEFAULT 0,
    secret            TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
INSERT INTO sites (id, key, name, created_at, updated_at)
    VALUES ('default', 'default', 'My site',
            (extract(epoch FROM now()) * 1000)::BIGINT,
            (extract(epoch FROM now()) * 1000)::BIGINT);

CREATE TABLE site_settings (
    site_id                TEXT   PRIMARY KEY NOT NULL,
    time_zone              TEXT   NOT NULL DEFAULT 'UTC',
    hours                  TEXT   NOT NULL DEFAULT '{}',
    holidays               TEXT   NOT NULL DEFAULT '[]',
    expected_reply_minutes BIGINT,
    greeting               TEXT,
    away_message           TEXT,
    updated_at             BIGINT NOT NULL DEFAULT 0
);
INSERT INTO site_settings (site_id) VALUES ('default');

CREATE TABLE customers (
    id              TEXT   PRIMARY KEY NOT NULL,
    email           TEXT   COLLATE nocase,
    unsubscribed_at BIGINT,
    created_at      BIGINT NOT NULL,
    site_id         TEXT   NOT NULL DEFAULT 'default',
    external_id     TEXT,
    name            TEXT
);
CREATE INDEX customers_by_email ON customers (email) WHERE email IS NOT NULL;
CREATE INDEX customers_by_site ON customers (site_id);
CREATE UNIQUE INDEX customers_by_external_id ON customers (site_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE conversations (
    id                TEXT   PRIMARY KEY NOT NULL,
    token_hash        BYTEA  NOT NULL UNIQUE,
    created_at        BIGINT NOT NULL,
    last_activity_at  BIGINT NOT NULL,
    last_seq          BIGINT NOT NULL DEFAULT 0,
    customer_read_seq BIGINT NOT NULL DEFAULT 0,
    agent_read_seq    BIGINT NOT NULL DEFAULT 0,
    status            TEXT   NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at         BIGINT,
    assignee_id       TEXT   REFERENCES agents (id),
    customer_name     TEXT,
    customer_email    TEXT,
    page_url          TEXT,
    user_agent        TEXT,
    language          TEXT,
    waiting_since     BIGINT,
    away_reply_for    BIGINT,
    customer_id       TEXT   REFERENCES customers (id),
    followup_due_at   BIGINT,
    emailed_seq       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_activity ON conversations (last_activity_at DESC, id DESC);
CREATE INDEX conversations_by_assignee ON conversations (assignee_id);
CREATE INDEX conversations_by_customer ON conversations (customer_id, last_activity_at);
CREATE INDEX conversations_by_followup ON conversations (followup_due_at)
    WHERE followup_due_at IS NOT NULL;

CREATE TABLE messages (
    id              TEXT   PRIMARY KEY NOT NULL,
    conversation_id TEXT   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    author          TEXT   NOT NULL CHECK (author IN ('customer', 'agent', 'bot', 'system')),
    client_id       TEXT,
    body            TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    position        BIGINT NOT NULL CHECK (position > 0),
    agent_id        TEXT   REFERENCES agents (id),
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, author, client_id)
);
CREATE UNIQUE INDEX messages_by_position ON messages (position);
-- Full-text search over message text (SQLite: the FTS5 table message_search,
-- whose tokenizer drops diacritics): words folded to lower case without
-- accents, so that "ca" finds "Ça", without an extension to install.
CREATE FUNCTION messenger_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN translate(lower($1),
                     'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ',
                     'aaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeegggggggghhiiiiiiiiijjkkllllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzoouuaaiioouuuuuuuuuuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooooooyy');
-- The words of a text as SQLite's tokenizer sees them: punctuation
-- separates (PostgreSQL's parser would keep `shop.example/orders/123` or
-- `ann@example.com` as one token, where FTS5 finds `orders` or `example`).
CREATE FUNCTION messenger_words(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(messenger_fold($1), '[[:punct:]]+', ' ', 'g');
CREATE INDEX messages_search ON messages USING gin (to_tsvector('simple', messenger_words(body)));

CREATE TABLE notes (
    id              TEXT   PRIMARY KEY NOT NULL,
    conversation_id TEXT   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    agent_id        TEXT   NOT NULL REFERENCES agents (id),
    client_id       TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, agent_id, client_id)
);
CREATE INDEX notes_by_conversation ON notes (conversation_id, created_at);

CREATE TABLE api_keys (
    id           TEXT   PRIMARY KEY NOT NULL,
    name         TEXT   NOT NULL,
    key_hash     BYTEA  NOT NULL UNIQUE,
    hint         TEXT   NOT NULL,
    created_by   TEXT   NOT NULL REFERENCES agents (id),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE customer_tokens (
    token_hash      BYTEA  PRIMARY KEY NOT NULL,
    customer_id     TEXT   NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id TEXT   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL
);
CREATE INDEX customer_tokens_by_conversation ON customer_tokens (conversation_id);

CREATE TABLE resume_links (
    code_hash   BYTEA  PRIMARY KEY NOT NULL,
    customer_id TEXT   NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX resume_links_by_customer ON resume_links (customer_id, created_at);

CREATE TABLE resume_requests (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    email      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    site_id    TEXT   NOT NULL DEFAULT 'default'
);

CREATE TABLE unsubscribe_codes (
    code_hash   BYTEA  PRIMARY KEY NOT NULL,
    customer_id TEXT   REFERENCES customers (id) ON DELETE CASCADE,
    agent_id    TEXT   REFERENCES agents (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    CHECK ((customer_id IS NULL) <> (agent_id IS NULL))
);

CREATE TABLE mail_queue (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    recipient       TEXT   NOT NULL,
    subject         TEXT   NOT NULL,
    text_body       TEXT   NOT NULL,
    html_body       TEXT,
    unsubscribe_url TEXT,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_at         BIGINT,
    failed_at       BIGINT
);
CREATE INDEX mail_queue_pending ON mail_queue (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
