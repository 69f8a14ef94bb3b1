ALTER TABLE clients DROP COLUMN cimd_failed_at;
ALTER TABLE clients DROP COLUMN cimd_last_modified;
ALTER TABLE clients DROP COLUMN cimd_etag;
ALTER TABLE clients DROP COLUMN cimd_expires_at;
ALTER TABLE clients DROP COLUMN cimd_fetched_at;
