-- What students handed in: each an immutable snapshot (a tar under the data directory) of
-- the assignment's folder, and who opened an assignment (started it).
CREATE TABLE submissions (
    id            TEXT PRIMARY KEY,
    assignment_id TEXT NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    submitted_at  BIGINT NOT NULL,
    late          BOOLEAN NOT NULL,
    files         BIGINT NOT NULL,
    bytes         BIGINT NOT NULL,
    -- Relative to the data directory.
    archive       TEXT NOT NULL
);
CREATE INDEX submissions_of ON submissions (assignment_id, user_id, submitted_at);

CREATE TABLE assignment_starts (
    assignment_id TEXT NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at    BIGINT NOT NULL,
    PRIMARY KEY (assignment_id, user_id)
);
