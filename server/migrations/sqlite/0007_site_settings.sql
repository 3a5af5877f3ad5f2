-- Per-site settings: business hours, the expected reply time, the greeting
-- and the away reply. One server hosts one site today, 'default'; the key
-- leaves room for more. No hours on any day means always open.
CREATE TABLE site_settings (
    site_id                TEXT    PRIMARY KEY NOT NULL,
    time_zone              TEXT    NOT NULL DEFAULT 'UTC',    -- IANA name
    -- {"mon": [[540, 1020]], …}: per weekday, [start, end) local minutes
    hours                  TEXT    NOT NULL DEFAULT '{}',
    holidays               TEXT    NOT NULL DEFAULT '[]',     -- ["YYYY-MM-DD", …], local dates
    expected_reply_minutes INTEGER,
    greeting               TEXT,
    away_message           TEXT,
    updated_at             INTEGER NOT NULL DEFAULT 0         -- Unix ms
) STRICT;

INSERT INTO site_settings (site_id) VALUES ('default');

-- The away period (identified by when it ends: the next opening, Unix ms;
-- the largest integer when no opening is ahead) for which the conversation
-- got its automatic away reply; NULL: none yet.
ALTER TABLE conversations ADD COLUMN away_reply_for INTEGER;
