-- One refresh rotation's statements as Gatehouse sends them (pgbench script; see scripts/bench):
-- lock the family, read the token with its family, client and user, rotate it, insert the next
-- one. Each pgbench client walks its own family (bench/floor-setup.sql), token by token.
BEGIN;
SELECT refresh_families.family_id FROM refresh_families WHERE refresh_families.family_id IN (SELECT refresh_tokens.family_id FROM refresh_tokens WHERE refresh_tokens.token_hash = 'floor-' || :client_id::text || '-' || :step::text) FOR UPDATE;
SELECT t.token_hash, t.family_id, t.created_at, t.rotated_at, t.revoked_at, f.family_id, f.client_id, f.user_id, f.scope, f.resource, f.created_at, f.expires_at, f.revoked_at, f.revoked_reason, c.status, c.last_seen_at, u.status FROM refresh_tokens t INNER JOIN refresh_families f ON t.family_id = f.family_id INNER JOIN clients c ON f.client_id = c.client_id INNER JOIN users u ON f.user_id = u.user_id WHERE t.token_hash = 'floor-' || :client_id::text || '-' || :step::text LIMIT 1;
UPDATE refresh_tokens SET rotated_at = 1796190000 WHERE token_hash = 'floor-' || :client_id::text || '-' || :step::text AND rotated_at IS NULL;
\set step :step + 1
INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES ('floor-' || :client_id::text || '-' || :step::text, 'floor-family-' || :client_id::text, 1796190000);
COMMIT;
