-- Leases on background jobs (retention, say), so that of several server
-- instances sharing one database only one runs a given pass. An instance
-- claims a job by writing its own name into `holder` while the row is free
-- or expired (`until_ms` past); nobody else takes it before `until_ms`.
CREATE TABLE job_leases (
    name     TEXT    PRIMARY KEY NOT NULL,
    holder   TEXT    NOT NULL,
    until_ms INTEGER NOT NULL                -- Unix ms the lease ends at
) STRICT;

-- Retention finds the conversations closed before a cutoff.
CREATE INDEX conversations_by_closed_at ON conversations (closed_at)
    WHERE status = 'closed';
