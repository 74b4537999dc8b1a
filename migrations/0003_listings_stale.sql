-- Whether the listed ranges lag behind the register. A register or admin API write commits
-- the provider change first and expands the listings in a second transaction; a process
-- killed between the two leaves this flag at 1, and the next `dnsbl serve` expands again.
ALTER TABLE state ADD COLUMN listings_stale INTEGER NOT NULL DEFAULT 0
    CHECK (listings_stale IN (0, 1));
