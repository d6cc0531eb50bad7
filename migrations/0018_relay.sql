-- What a replica holds that another replica may be asked for: the others relay to it.

-- Where the other replicas reach a replica (`http://host:port`), for relaying to it.
ALTER TABLE replicas ADD COLUMN address TEXT;

-- Terminals shared with a course, held by the replica running them.
CREATE TABLE live_shares (
    id          TEXT PRIMARY KEY,
    replica_id  TEXT NOT NULL,
    course_id   TEXT NOT NULL,
    by_username TEXT NOT NULL,
    started_ms  BIGINT NOT NULL
);
CREATE INDEX live_shares_course ON live_shares (course_id);

-- Live streams in workspaces (their teachers may watch them), held by the replica running them.
CREATE TABLE live_sources (
    id           TEXT PRIMARY KEY,
    replica_id   TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    tty          BIGINT NOT NULL,
    started_ms   BIGINT NOT NULL
);
CREATE INDEX live_sources_workspace ON live_sources (workspace_id);

-- Resumable streams parked for a reattach, by the SHA-256 of the resume token (never the
-- token), held by the replica running them until until_ms.
CREATE TABLE parked_streams (
    resume_hash TEXT PRIMARY KEY,
    replica_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    until_ms    BIGINT NOT NULL
);

-- A ticket one replica makes for its relay to another: the session it opens there parks its
-- streams under the relaying session's resume token (its hash), which the client holds.
ALTER TABLE ws_tickets ADD COLUMN resume_as TEXT;
