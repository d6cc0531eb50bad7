-- The streams each session runs, as its replica last recorded them (each second, when they
-- changed), so that the usage view counts every replica's.
ALTER TABLE live_sessions ADD COLUMN streams BIGINT NOT NULL DEFAULT 0;
