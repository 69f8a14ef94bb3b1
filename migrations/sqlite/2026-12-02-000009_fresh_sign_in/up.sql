-- A pending request that must sign in afresh at its source (SPEC §9.1, §10): "Not you? Sign
-- out", `prompt=login`, or a session older than `max_age`. Upstream providers then get
-- `prompt=login` (GitHub `prompt=select_account`); the app gets `prompt` in the request info.
ALTER TABLE auth_requests ADD COLUMN fresh_sign_in BOOLEAN NOT NULL DEFAULT false;
