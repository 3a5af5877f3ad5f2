-- Who is here, per instance: a customer with a stream open (the site open
-- in some tab), an agent with the inbox open. Used with PostgreSQL, where
-- the instance that sends an email is not always the one holding the
-- stream; each instance refreshes its rows and they expire when it stops.
CREATE TABLE presence (
    party    TEXT    NOT NULL,              -- "customer:u_…" or "agent:a_…"
    instance TEXT    NOT NULL,
    seen_at  INTEGER NOT NULL,              -- Unix ms, refreshed while here
    PRIMARY KEY (party, instance)
) STRICT;
