-- Browsers that signed in before (SPEC §11): the device cookie, stored by digest and bound to one
-- user. Such a browser is never delayed by sign-in failures from anyone else.
CREATE TABLE device_cookies (
    token_hash TEXT PRIMARY KEY,          -- SHA-256 of the cookie value
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0 -- wrong passwords presented with it; five void it
);
CREATE INDEX device_cookies_user_idx ON device_cookies (user_id);
CREATE INDEX device_cookies_expires_idx ON device_cookies (expires_at);
