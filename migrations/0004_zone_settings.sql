-- A fingerprint of the zone settings (zones.toml) the serial was last increased for. TTLs,
-- SOA fields, name servers and answer styles are part of every answer and every exported
-- zone, so a change of them must increase the serial like a change of the listings.
ALTER TABLE state ADD COLUMN zones_fingerprint TEXT;
