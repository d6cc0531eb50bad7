-- Where each container berth created lives, so that a container id (or name) finds its host.
-- Names are unique across hosts, so a name never means two containers.
CREATE TABLE containers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    host       TEXT NOT NULL,
    image      TEXT NOT NULL,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX containers_owner ON containers (owner_id);

-- TLS material of a tcp host (CA, client certificate and key), sealed with the secret key.
ALTER TABLE hosts ADD COLUMN tls_sealed TEXT;
