-- The register, the routing snapshot and the expanded listings of dnsbl.
--
-- Conventions:
-- * Addresses are 16-byte big-endian BLOBs with a `family` column (4 or 6). An IPv4 address
--   is its 32-bit value in the last 4 bytes, after 12 zero bytes, so within one family BLOB
--   comparison (memcmp) orders addresses numerically. Ranges are inclusive.
-- * Dates are TEXT `YYYY-MM-DD`; timestamps are TEXT RFC 3339 in UTC.
-- * `source` is 'file' for rows written by the sync of register.toml and 'api' for rows
--   written through the API. The sync never changes 'api' rows.
-- * Providers and operators are never deleted: delisting sets `delisted_at` and
--   `delist_reason`, so the history stays.

CREATE TABLE categories (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The 127.0.0.x value of the A record, dotted.
    code TEXT NOT NULL,
    -- TXT template with {query}, {provider}, {operator}, {source} and {category}.
    txt  TEXT NOT NULL
);

CREATE TABLE operators (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    note          TEXT,
    listed_since  TEXT,
    delisted_at   TEXT,
    delist_reason TEXT,
    source        TEXT NOT NULL CHECK (source IN ('file', 'api'))
);

CREATE TABLE operator_aliases (
    operator_id INTEGER NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    alias       TEXT NOT NULL,
    PRIMARY KEY (operator_id, alias)
) WITHOUT ROWID;

CREATE TABLE providers (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    category_id   INTEGER NOT NULL REFERENCES categories (id),
    operator_id   INTEGER REFERENCES operators (id),
    note          TEXT,
    listed_since  TEXT,
    delisted_at   TEXT,
    delist_reason TEXT,
    source        TEXT NOT NULL CHECK (source IN ('file', 'api'))
);

CREATE TABLE provider_domains (
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    -- Lower case, without the trailing dot.
    domain      TEXT NOT NULL,
    PRIMARY KEY (provider_id, domain)
) WITHOUT ROWID;

CREATE TABLE provider_asns (
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    asn         INTEGER NOT NULL CHECK (asn BETWEEN 0 AND 4294967295),
    PRIMARY KEY (provider_id, asn)
) WITHOUT ROWID;

CREATE INDEX provider_asns_by_asn ON provider_asns (asn);

CREATE TABLE provider_netblocks (
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    -- Canonical text: a CIDR prefix when the range is one, else `start-end`.
    netblock    TEXT NOT NULL,
    family      INTEGER NOT NULL CHECK (family IN (4, 6)),
    start_addr  BLOB NOT NULL CHECK (length(start_addr) = 16),
    end_addr    BLOB NOT NULL CHECK (length(end_addr) = 16),
    PRIMARY KEY (provider_id, netblock)
) WITHOUT ROWID;

CREATE TABLE allow_entries (
    id         INTEGER PRIMARY KEY,
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

CREATE UNIQUE INDEX allow_entries_unique ON allow_entries (source, value, coalesce(zone, ''));

-- The current routing snapshot: which ASN originates each address range. Replaced whole
-- by every ingest.
CREATE TABLE routing_ranges (
    family     INTEGER NOT NULL CHECK (family IN (4, 6)),
    start_addr BLOB NOT NULL CHECK (length(start_addr) = 16),
    end_addr   BLOB NOT NULL CHECK (length(end_addr) = 16),
    asn        INTEGER NOT NULL CHECK (asn BETWEEN 0 AND 4294967295),
    org        TEXT NOT NULL
);

CREATE INDEX routing_ranges_by_asn ON routing_ranges (asn);

-- The files the current routing snapshot was read from.
CREATE TABLE routing_sources (
    id        INTEGER PRIMARY KEY,
    path      TEXT NOT NULL,
    rows      INTEGER NOT NULL,
    -- File size in bytes and modification time (RFC 3339), to tell whether a file changed.
    size      INTEGER NOT NULL,
    modified  TEXT,
    loaded_at TEXT NOT NULL
);

-- One row per ingest (new routing files) or expansion (stored routing data), kept as a log.
CREATE TABLE ingest_runs (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('ingest', 'expand')),
    started_at         TEXT NOT NULL,
    finished_at        TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    -- JSON array of the routing file paths; empty for an expansion.
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

-- The expanded result: the ranges each active provider lists, merged per source and with
-- the allow-list entries of every zone cut out. Replaced whole by every expansion.
CREATE TABLE listed_ranges (
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    family      INTEGER NOT NULL CHECK (family IN (4, 6)),
    start_addr  BLOB NOT NULL CHECK (length(start_addr) = 16),
    end_addr    BLOB NOT NULL CHECK (length(end_addr) = 16),
    source_kind TEXT NOT NULL CHECK (source_kind IN ('asn', 'netblock')),
    asn         INTEGER CHECK (asn BETWEEN 0 AND 4294967295),
    netblock    TEXT,
    CHECK ((source_kind = 'asn') = (asn IS NOT NULL AND netblock IS NULL)),
    CHECK ((source_kind = 'netblock') = (netblock IS NOT NULL AND asn IS NULL))
);

CREATE INDEX listed_ranges_by_provider ON listed_ranges (provider_id);

-- One row: the serial of the listings, used as the SOA serial. It increases on every change
-- of the listings.
CREATE TABLE state (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    serial INTEGER NOT NULL CHECK (serial BETWEEN 0 AND 4294967295)
);

INSERT INTO state (id, serial) VALUES (1, 1);
