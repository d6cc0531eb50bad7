-- Background jobs: a workspace's `exec` or `run` with `detach: true`, which goes on after every
-- session ends. state is running, exited (code), killed (killed: cancelled, timeout or memory),
-- failed (error: berth could not start or follow it) or lost (berth stopped while it ran; its
-- processes were killed at the next start). The output lives in the memory of the process
-- that runs the job, not here.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- exec or run, and what it runs (a JSON array: the command, or the file and its arguments).
    kind         TEXT NOT NULL,
    command      TEXT NOT NULL,
    tty          BOOLEAN NOT NULL,
    state        TEXT NOT NULL,
    code         BIGINT,
    killed       TEXT,
    error        TEXT,
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX jobs_by_workspace ON jobs (workspace_id, started_at);
CREATE INDEX jobs_running ON jobs (user_id, state);

-- The longest a background job of a template's workspaces runs (NULL: a day).
ALTER TABLE templates ADD COLUMN job_max_s BIGINT;
