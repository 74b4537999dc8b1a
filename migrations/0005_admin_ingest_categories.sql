-- Ingests started through the admin API and categories written through it.
--
-- An API ingest runs in the background, so its run is recorded when it starts, with
-- status 'running' and no finish time, and the client polls it by id. SQLite cannot alter
-- a CHECK constraint, so the table is copied into a new one.
CREATE TABLE ingest_runs_new (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('ingest', 'expand')),
    started_at         TEXT NOT NULL,
    -- NULL while the run is running.
    finished_at        TEXT,
    status             TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    -- JSON array of the routing file paths or URLs; empty for an expansion.
    sources            TEXT NOT NULL,
    rows_v4            INTEGER NOT NULL,
    rows_v6            INTEGER NOT NULL,
    providers_expanded INTEGER NOT NULL,
    ranges_v4          INTEGER NOT NULL,
    ranges_v6          INTEGER NOT NULL,
    -- Decimal text, because an IPv6 count does not fit in a 64-bit INTEGER.
    addresses_v4       TEXT NOT NULL,
    addresses_v6       TEXT NOT NULL,
    seconds            REAL NOT NULL,
    error              TEXT
);

INSERT INTO ingest_runs_new
SELECT id, kind, started_at, finished_at, status, sources, rows_v4, rows_v6,
       providers_expanded, ranges_v4, ranges_v6, addresses_v4, addresses_v6, seconds, error
FROM ingest_runs;

DROP TABLE ingest_runs;

ALTER TABLE ingest_runs_new RENAME TO ingest_runs;

-- 'file' for categories of register.toml, 'api' for categories created through the API.
-- The sync of register.toml changes and deletes only 'file' rows.
ALTER TABLE categories ADD COLUMN source TEXT NOT NULL DEFAULT 'file'
    CHECK (source IN ('file', 'api'));
