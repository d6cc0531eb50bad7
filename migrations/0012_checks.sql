-- The check of each submission: queued when it is handed in, then run in a sandbox of its
-- own. state is queued, running, done (it ran: code, passed, duration_ms, output) or failed
-- (berth could not run it: error).
CREATE TABLE checks (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id) ON DELETE CASCADE,
    state         TEXT NOT NULL,
    code          BIGINT,
    passed        BOOLEAN,
    duration_ms   BIGINT,
    -- timeout, output or memory: the limit that killed it.
    killed        TEXT,
    output        TEXT NOT NULL,
    error         TEXT,
    finished_at   BIGINT
);
CREATE INDEX checks_by_state ON checks (state);

-- A snapshot berth took at the due time, of a student who started and had not handed in.
ALTER TABLE submissions ADD COLUMN collected BOOLEAN NOT NULL DEFAULT FALSE;
-- When the due-time snapshots of an assignment were taken (reset when due_at moves).
ALTER TABLE assignments ADD COLUMN collected_at BIGINT;
