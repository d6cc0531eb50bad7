-- The engine each replica reaches as `local` (its ID, as `docker info` gives it), so that the
-- leader reconciles the `local` rows only when every replica's `local` is the same engine.
ALTER TABLE replicas ADD COLUMN local_engine TEXT;
