-- Delegated sign-in through the app beside Gatehouse (SPEC §9.2). One row per login challenge:
-- bound to the pending request and the browser that started it, expiring with the request.
-- The app's statement (accept or reject) is kept until the browser brings the verifier back.
CREATE TABLE app_logins (
    challenge_hash    TEXT PRIMARY KEY,      -- SHA-256 of the login_challenge
    request_id        TEXT NOT NULL REFERENCES auth_requests (request_id) ON DELETE CASCADE,
    browser_hash      TEXT NOT NULL,         -- the browser-binding cookie's digest, as on the request
    status            TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'used', 'void')),
    verifier_hash     TEXT UNIQUE,           -- SHA-256 of the login_verifier; set by accept or reject
    user_id           TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time         BIGINT,
    error_description TEXT,                  -- the app's words on a reject
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);
CREATE INDEX app_logins_request_idx ON app_logins (request_id);
CREATE INDEX app_logins_user_idx ON app_logins (user_id);
CREATE INDEX app_logins_expires_idx ON app_logins (expires_at);
