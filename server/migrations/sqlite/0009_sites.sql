-- Many sites per server. Each site has a public key (the script tag's
-- data-site), the origins allowed to embed it and call the customer API,
-- its look and its texts. The site of the one-site era keeps id and key
-- 'default'; new sites get id 's_' + 32 hex and key 'mws_' + 24 hex.
-- The greeting stays in site_settings (one row per site, with the hours).
CREATE TABLE sites (
    id                TEXT    PRIMARY KEY NOT NULL,
    key               TEXT    NOT NULL UNIQUE,
    name              TEXT    NOT NULL,
    allowed_origins   TEXT    NOT NULL DEFAULT '[]',        -- ["https://shop.example", …]
    color             TEXT    NOT NULL DEFAULT '#2563eb',   -- #rrggbb
    position          TEXT    NOT NULL DEFAULT 'right' CHECK (position IN ('left', 'right')),
    offset_x          INTEGER NOT NULL DEFAULT 20,          -- CSS px
    offset_y          INTEGER NOT NULL DEFAULT 20,
    z_index           INTEGER NOT NULL DEFAULT 2147483000,
    default_language  TEXT    NOT NULL DEFAULT 'en',
    texts             TEXT    NOT NULL DEFAULT '{}',        -- {"*" or lang: {key: text}}
    identity_required INTEGER NOT NULL DEFAULT 0,
    -- The HMAC secret (HS256) that the site's backend signs identities
    -- with. It is stored in the clear on purpose: verifying a signature
    -- needs the secret itself, so it cannot be hashed like tokens are.
    -- NULL: identity verification not set up.
    secret            TEXT,
    created_at        INTEGER NOT NULL,                     -- Unix ms
    updated_at        INTEGER NOT NULL
) STRICT;

INSERT INTO sites (id, key, name, created_at, updated_at)
    VALUES ('default', 'default', 'My site',
            CAST(strftime('%s', 'now') AS INTEGER) * 1000,
            CAST(strftime('%s', 'now') AS INTEGER) * 1000);

-- Every customer belongs to one site; until now there was one.
-- (SQLite cannot add a REFERENCES column with a non-NULL default; the
-- store writes only ids of existing sites, which are never deleted.)
ALTER TABLE customers ADD COLUMN site_id TEXT NOT NULL DEFAULT 'default';
CREATE INDEX customers_by_site ON customers (site_id);

-- The site a resume link was asked for on.
ALTER TABLE resume_requests ADD COLUMN site_id TEXT NOT NULL DEFAULT 'default';
