-- The WebSocket sessions open on each replica, so that `session.max_sessions_per_user` holds
-- across replicas and the usage view counts them all. A relay's session on the holder of a
-- stream is its client's session on the other replica, and has no row of its own.
CREATE TABLE live_sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    replica_id TEXT NOT NULL,
    opened_ms  BIGINT NOT NULL
);
CREATE INDEX live_sessions_user ON live_sessions (user_id);
CREATE INDEX live_sessions_replica ON live_sessions (replica_id);
