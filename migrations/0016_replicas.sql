-- What berth replicas on one database must agree on, kept in rows rather than in a process.

-- Events between replicas: a notification only wakes a replica, which reads what happened
-- here. seq is given by the publisher under a lock held until its commit, so rows appear in
-- seq order and a reader that has seen N has seen everything before N.
CREATE TABLE events (
    seq     BIGINT PRIMARY KEY,
    channel TEXT NOT NULL,
    body    TEXT NOT NULL,
    at_ms   BIGINT NOT NULL
);
CREATE INDEX events_at ON events (at_ms);

-- WebSocket tickets, by the SHA-256 of the ticket (the ticket itself is never stored): each
-- stands for one token (its id and times) and is taken out once.
CREATE TABLE ws_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    jti         TEXT NOT NULL,
    iat         BIGINT NOT NULL,
    exp         BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX ws_tickets_user ON ws_tickets (user_id);
CREATE INDEX ws_tickets_jti ON ws_tickets (jti);

-- Recent failures (wrong passwords, wrong check-in codes), by the SHA-256 of what they count
-- (an account and an address, an address, a student): failures since since_ms.
CREATE TABLE throttle (
    key_hash TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    since_ms BIGINT NOT NULL
);
CREATE INDEX throttle_since ON throttle (since_ms);
