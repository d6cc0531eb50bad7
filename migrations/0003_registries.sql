-- Private registries and their credentials (the password encrypted with the server's key).
-- owner_id NULL: shared, added by a teacher or admin, usable by everyone.
CREATE TABLE registries (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    server       TEXT NOT NULL,
    username     TEXT NOT NULL,
    password_enc TEXT NOT NULL,
    owner_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL
);
-- Names are unique among one owner's registries and among the shared ones. Rows are deleted
-- for real, so a name can be used again at once.
CREATE UNIQUE INDEX registries_owner_name ON registries (COALESCE(owner_id, ''), name);
