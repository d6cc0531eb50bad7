-- This berth's name for itself on its Docker engines, one row made at the first start: every
-- container it makes carries it (label `berth.installation`), so that the leader, reconciling
-- rows with containers, never touches another berth's containers on an engine they share.
CREATE TABLE installation (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    value TEXT NOT NULL
);
