-- Replicas, the one among them that leads, and what each has running.

-- Every running berth process, by an id it makes at start: its heartbeat (every second) tells
-- the others it is alive. A replica whose heartbeat stopped is dead, and what it ran is killed.
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    started_ms   BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL
);

-- The execs a replica started whose processes may still run: a row from the engine's start to
-- the kill of what the exec left. The survivors kill those of a dead replica.
CREATE TABLE live_execs (
    marker       TEXT PRIMARY KEY,
    replica_id   TEXT NOT NULL,
    host         TEXT NOT NULL,
    container_id TEXT NOT NULL,
    exec_id      TEXT NOT NULL,
    started_ms   BIGINT NOT NULL
);
CREATE INDEX live_execs_replica ON live_execs (replica_id);
CREATE INDEX live_execs_container ON live_execs (container_id);

-- The leader's term, one row: each replica that becomes leader raises it, and every action the
-- leader takes is conditional on the term still being its own, so a stale leader changes
-- nothing.
CREATE TABLE leadership (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    term       BIGINT NOT NULL,
    replica_id TEXT NOT NULL,
    since_ms   BIGINT NOT NULL
);

-- The replica whose memory holds a background job's output (NULL: before replicas).
ALTER TABLE jobs ADD COLUMN replica_id TEXT;

-- The replica that runs a check (NULL: before replicas): the leader runs again those a dead one
-- left queued or running.
ALTER TABLE checks ADD COLUMN replica_id TEXT;
