-- Never reuse the id of a deleted allow-list entry.
--
-- `DELETE /v1/allow/{id}` addresses entries by id. Without AUTOINCREMENT, SQLite gives a new
-- row the largest id in the table plus one, so after the newest entries were deleted a new
-- entry took the id of a deleted one, and a repeated or stale DELETE removed it. SQLite
-- cannot add AUTOINCREMENT to a table, so the table is copied into a new one with the same
-- ids. Dropping the old table drops its index and triggers, which are created again below.
CREATE TABLE allow_entries_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Canonical text of the range, or the domain in lower case.
    value      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('range', 'domain')),
    -- Set for kind 'range' only.
    family     INTEGER CHECK (family IN (4, 6)),
    start_addr BLOB CHECK (length(start_addr) = 16),
    end_addr   BLOB CHECK (length(end_addr) = 16),
    reason     TEXT NOT NULL,
    -- Apex of the zone the entry applies to; NULL applies to every zone.
    zone       TEXT,
    source     TEXT NOT NULL CHECK (source IN ('file', 'api')),
    CHECK ((kind = 'range') = (family IS NOT NULL AND start_addr IS NOT NULL AND end_addr IS NOT NULL))
);

INSERT INTO allow_entries_new (id, value, kind, family, start_addr, end_addr, reason, zone, source)
SELECT id, value, kind, family, start_addr, end_addr, reason, zone, source
FROM allow_entries;

DROP TABLE allow_entries;

ALTER TABLE allow_entries_new RENAME TO allow_entries;

CREATE UNIQUE INDEX allow_entries_unique ON allow_entries (source, value, coalesce(zone, ''));

CREATE TRIGGER snapshot_cache_allow_entries_insert AFTER INSERT ON allow_entries
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_allow_entries_update AFTER UPDATE ON allow_entries
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_allow_entries_delete AFTER DELETE ON allow_entries
    BEGIN DELETE FROM snapshot_cache; END;

-- The copy set the sequence to the largest id left in the table. Entries deleted through
-- the API before this migration may have had larger ids, and the audit log records them,
-- so the sequence starts above those too. Ids of deleted register.toml entries are not
-- recorded anywhere and may still be given again once.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'allow_entries', 0
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'allow_entries');

UPDATE sqlite_sequence
SET seq = max(
    seq,
    coalesce((
        SELECT max(coalesce(json_extract(change, '$.created.id'), json_extract(change, '$.deleted.id')))
        FROM audit_log
        WHERE path = '/v1/allow' OR path LIKE '/v1/allow/%'
    ), 0)
)
WHERE name = 'allow_entries';
