-- Tokens and the audit log of the admin HTTP API.

-- Bearer tokens. Only the SHA-256 hash of a token is stored; the token itself is printed
-- once by `dnsbl token create`. Revoking a token deletes its row.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'read')),
    hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at TEXT NOT NULL
);

-- One row for every write through the API, written in the transaction of the write.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    token_name TEXT NOT NULL,
    -- RFC 3339 in UTC.
    at         TEXT NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    -- JSON object describing the change.
    change     TEXT NOT NULL
);

-- Listing and delisting of providers through the API, so that a relisted provider keeps
-- the dates and reasons of earlier delistings.
CREATE TABLE provider_events (
    id          INTEGER PRIMARY KEY,
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('listed', 'delisted', 'relisted')),
    reason      TEXT
);

CREATE INDEX provider_events_by_provider ON provider_events (provider_id);
