-- OpenID Connect and introspection (SPEC §10).
-- The pending request keeps what /authorize asked for: `nonce` (echoed in the id_token),
-- `prompt` and `max_age` (the app's sign-in sees them in the request info, §9.2).
ALTER TABLE auth_requests ADD COLUMN nonce TEXT;
ALTER TABLE auth_requests ADD COLUMN prompt TEXT;
ALTER TABLE auth_requests ADD COLUMN max_age BIGINT;
-- The code carries the nonce and the session's auth_time to the code exchange.
ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
ALTER TABLE authorization_codes ADD COLUMN auth_time BIGINT;
-- Every code exchange makes a grant: a refresh family (with or without refresh tokens). A
-- refreshed id_token keeps the original auth_time.
ALTER TABLE refresh_families ADD COLUMN auth_time BIGINT;
-- One active key per algorithm: ES256 signs access tokens (and id_tokens on request), RS256
-- signs id_tokens.
DROP INDEX signing_keys_one_active;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (algorithm) WHERE status = 'active';
