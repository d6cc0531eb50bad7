-- Workspace templates (what a workspace is made from) and users' workspaces (a container and a
-- named volume holding /workspace).
CREATE TABLE templates (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    image          TEXT NOT NULL,
    description    TEXT,
    memory_mb      BIGINT,
    cpus           DOUBLE PRECISION,
    pids           BIGINT,
    gpus           BIGINT,
    network        TEXT NOT NULL,
    idle_timeout_s BIGINT,
    -- JSON objects: {".py": ["python3", "{file}"]} and {"main.py": "print(1)\n"}
    run            TEXT NOT NULL,
    files          TEXT NOT NULL,
    created_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- Deleted with force while workspaces used it: hidden, kept for those workspaces.
    deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL
);

CREATE TABLE workspaces (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    owner_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_id    TEXT NOT NULL REFERENCES templates (id),
    host           TEXT NOT NULL,
    container_id   TEXT NOT NULL,
    volume         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX workspaces_owner_name ON workspaces (owner_id, name);
CREATE INDEX workspaces_template ON workspaces (template_id);
