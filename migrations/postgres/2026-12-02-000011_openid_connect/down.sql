DELETE FROM signing_keys WHERE algorithm <> 'ES256';
DROP INDEX signing_keys_one_active;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active';
ALTER TABLE refresh_families DROP COLUMN auth_time;
ALTER TABLE authorization_codes DROP COLUMN auth_time;
ALTER TABLE authorization_codes DROP COLUMN nonce;
ALTER TABLE auth_requests DROP COLUMN max_age;
ALTER TABLE auth_requests DROP COLUMN prompt;
ALTER TABLE auth_requests DROP COLUMN nonce;
