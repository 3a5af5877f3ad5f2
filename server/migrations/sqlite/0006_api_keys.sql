-- Agent API keys for integrations, created and revoked in the inbox by
-- admins. A key (mwk_ + 256 random bits, base64url) is shown once, when it
-- is created; only its SHA-256 is kept (a fast hash is enough for a secret
-- this long, and it keeps the lookup indexed), with a short non-secret hint
-- (mwk_ and its next 8 characters) so admins can tell keys apart. A revoked
-- key is kept, with revoked_at, so the list shows what happened.
CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY NOT NULL,          -- k_ + 32 hex
    name         TEXT    NOT NULL,
    key_hash     BLOB    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL,
    created_by   TEXT    NOT NULL REFERENCES agents (id),
    created_at   INTEGER NOT NULL,                      -- Unix ms
    last_used_at INTEGER,                               -- Unix ms, updated at most once a minute
    revoked_at   INTEGER                                -- Unix ms; NULL: valid
) STRICT;
