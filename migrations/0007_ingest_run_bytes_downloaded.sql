-- The bytes an ingest run downloaded from its URL sources, kept after the run finishes.
-- Runs recorded before this column, file ingests and expansions have 0.
ALTER TABLE ingest_runs ADD COLUMN bytes_downloaded INTEGER NOT NULL DEFAULT 0;
