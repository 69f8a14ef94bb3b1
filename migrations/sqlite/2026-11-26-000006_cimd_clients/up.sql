-- Client ID Metadata Documents: the cached document's fetch and expiry times and validators.
ALTER TABLE clients ADD COLUMN cimd_fetched_at BIGINT;
ALTER TABLE clients ADD COLUMN cimd_expires_at BIGINT;
ALTER TABLE clients ADD COLUMN cimd_etag TEXT;
ALTER TABLE clients ADD COLUMN cimd_last_modified TEXT;
ALTER TABLE clients ADD COLUMN cimd_failed_at BIGINT;  -- last failed refetch, NULL once one succeeds
