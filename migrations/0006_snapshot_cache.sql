-- Start and reload without reading every listed range row.
--
-- `snapshot_cache` holds the inputs of the lookup snapshot (categories, listings, listed
-- ranges and domains, allow-list entries) in one BLOB, in the format of
-- crates/dnsbl-store/src/snapshot_cache.rs. Every expansion writes it in its own
-- transaction, and `dnsbl serve` writes it after a load from the tables. It is valid only
-- while its `serial` equals `state.serial` and its `format` is the one the binary
-- writes. The triggers below delete it on any change of a table the snapshot reads that
-- does not go through an expansion, so no writer can leave a stale copy behind.
CREATE TABLE snapshot_cache (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    serial INTEGER NOT NULL,
    format INTEGER NOT NULL,
    data   BLOB NOT NULL
);

CREATE TRIGGER snapshot_cache_categories_insert AFTER INSERT ON categories
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_categories_update AFTER UPDATE ON categories
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_categories_delete AFTER DELETE ON categories
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_operators_insert AFTER INSERT ON operators
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_operators_update AFTER UPDATE ON operators
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_operators_delete AFTER DELETE ON operators
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_providers_insert AFTER INSERT ON providers
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_providers_update AFTER UPDATE ON providers
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_providers_delete AFTER DELETE ON providers
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_provider_domains_insert AFTER INSERT ON provider_domains
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_provider_domains_update AFTER UPDATE ON provider_domains
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_provider_domains_delete AFTER DELETE ON provider_domains
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_allow_entries_insert AFTER INSERT ON allow_entries
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_allow_entries_update AFTER UPDATE ON allow_entries
    BEGIN DELETE FROM snapshot_cache; END;
CREATE TRIGGER snapshot_cache_allow_entries_delete AFTER DELETE ON allow_entries
    BEGIN DELETE FROM snapshot_cache; END;

-- A SHA-256 digest of zones.toml, register.toml and the range limits that `dnsbl serve`
-- last applied to the store. When the files are unchanged, serve skips the register sync
-- (and the parse of register.toml). Any other sync of the register sets it to NULL.
ALTER TABLE state ADD COLUMN register_fingerprint TEXT;
