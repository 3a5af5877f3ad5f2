-- Agent accounts and their inbox sessions.
--
-- Emails are stored lowercased by the server; COLLATE NOCASE on the unique
-- index also catches ASCII case variants written by any other path.
-- Passwords are argon2id PHC strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash),
-- which carry their own parameters, so stronger ones can come later.
CREATE TABLE agents (
    id            TEXT    PRIMARY KEY NOT NULL,         -- a_ + 32 hex
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'agent')),
    disabled_at   INTEGER,                              -- Unix ms; NULL: active
    created_at    INTEGER NOT NULL,                     -- Unix ms
    updated_at    INTEGER NOT NULL                      -- Unix ms
) STRICT;

-- A session is found by the SHA-256 of its cookie's token (256 random bits,
-- so a fast hash is enough). Its CSRF token is derived from the token, not
-- stored (see ids::csrf_token). It expires after 30 idle days (expires_at
-- slides forward with use) and 90 days after creation at the latest.
-- A revoked session (logout, password change, agent disabled) is deleted.
CREATE TABLE agent_sessions (
    id           TEXT    PRIMARY KEY NOT NULL,          -- s_ + 32 hex
    token_hash   BLOB    NOT NULL UNIQUE,
    agent_id     TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,                      -- Unix ms
    last_seen_at INTEGER NOT NULL,                      -- Unix ms, updated at most once a minute
    expires_at   INTEGER NOT NULL                       -- Unix ms
) STRICT;

-- Revoking every session of an agent.
CREATE INDEX agent_sessions_by_agent ON agent_sessions (agent_id);
