-- Docker hosts besides `local` (the settings' engine). Deleted for real, so a name can return.
CREATE TABLE hosts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    url        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
