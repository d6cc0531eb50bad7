-- Who did what, kept apart from the rows it is about (an entry outlives the account, container
-- or course it names). detail is a JSON object of what the action was given: never a secret or
-- a file's content. id is a UUIDv7, so ids sort by time.
CREATE TABLE audit (
    id        TEXT PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    user_id   TEXT,
    username  TEXT,
    action    TEXT NOT NULL,
    target    TEXT,
    outcome   TEXT NOT NULL,
    client    TEXT,
    detail    TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at_ms);
CREATE INDEX audit_user ON audit (username, at_ms);
