-- A trip to an upstream OpenID Provider in progress (SPEC §9.1): the `state` sent there, stored
-- as its digest, bound to the pending request, the browser that started it and the provider,
-- with the PKCE verifier and the nonce that the callback needs. Single use (the callback
-- deletes the row), expiring with the request.
CREATE TABLE upstream_logins (
    state_hash TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES auth_requests (request_id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX upstream_logins_request_id ON upstream_logins (request_id);
CREATE INDEX upstream_logins_expires_at ON upstream_logins (expires_at);
