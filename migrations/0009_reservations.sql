-- What each user's containers and workspaces take of their quota, taken in one statement that
-- checks the quota, so that parallel creations cannot all pass one check. A container carries
-- its reservation's id as a label; a workspace's reservation has the workspace's id.
CREATE TABLE reservations (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'container' or 'workspace'
    kind       TEXT NOT NULL,
    memory_mb  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reservations_owner ON reservations (owner_id);
-- Workspaces made before reservations existed.
INSERT INTO reservations (id, owner_id, kind, memory_mb, created_at)
SELECT w.id, w.owner_id, 'workspace', COALESCE(t.memory_mb, 512), w.created_at
FROM workspaces w LEFT JOIN templates t ON t.id = w.template_id;
