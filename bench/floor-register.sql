-- One registration's statements as Gatehouse sends them (pgbench script; see scripts/bench):
-- the rate-limit upsert in a transaction of its own (SPEC §4.3), then one transaction with the
-- dedupe lookup, the client row, its registration token and its audit row (SPEC §4.6).
-- -D spread=1: one rate-limit row per client (address); -D spread=0: all share one row.
\set n random(1, 9000000000000000)
INSERT INTO rate_limit_windows (key, window_start, attempts, audited) VALUES ('floor-' || (:client_id::int * :spread::int)::text, 0, 1, false) ON CONFLICT (key, window_start) DO UPDATE SET attempts = rate_limit_windows.attempts + 1 RETURNING rate_limit_windows.attempts;
BEGIN;
SELECT client_id, source, status, disabled_reason, client_name, redirect_uris, metadata, fingerprint, registrant_address, registrant_user_agent, created_at, updated_at, last_seen_at, cimd_fetched_at, cimd_expires_at, cimd_etag, cimd_last_modified, cimd_failed_at FROM clients WHERE fingerprint = 'floorfp' || :n::text LIMIT 1;
INSERT INTO clients (client_id, source, status, disabled_reason, client_name, redirect_uris, metadata, fingerprint, registrant_address, registrant_user_agent, created_at, updated_at, last_seen_at, cimd_fetched_at, cimd_expires_at, cimd_etag, cimd_last_modified, cimd_failed_at) VALUES ('dcr_floor' || :n::text, 'dcr', 'active', NULL, 'bench floor', '["https://bench.example/cb/1","http://127.0.0.1/"]', '{"client_name":"bench floor","redirect_uris":["https://bench.example/cb/1","http://127.0.0.1/"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}', 'floorfp' || :n::text, '127.0.0.2', NULL, 1796190000, 1796190000, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO registration_tokens (token_hash, client_id, created_at) VALUES ('floortok' || :n::text, 'dcr_floor' || :n::text, 1796190000);
INSERT INTO audit_events (at, event, actor, client_id, address, user_agent, detail) VALUES (1796190000, 'client.dcr.registered', 'anonymous', 'dcr_floor' || :n::text, '127.0.0.2', NULL, '{"client_name":"bench floor","redirect_uris":["https://bench.example/cb/1","http://127.0.0.1/"]}');
COMMIT;
