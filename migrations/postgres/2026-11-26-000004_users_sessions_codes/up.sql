-- Local accounts, browser sessions, pending authorization requests and authorization codes.
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_lower   TEXT NOT NULL UNIQUE,   -- emails are unique case-insensitively
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    status        TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Failed sign-ins per account key (digest of the lower-cased email, known or not, so the
-- growing delay reveals nothing about which emails exist).
CREATE TABLE login_failures (
    account_key    TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    last_failed_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY,        -- SHA-256 of the cookie value
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,           -- for the logout form
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- An authorization request between /authorize and the consent decision, carried by its id.
CREATE TABLE auth_requests (
    request_id     TEXT PRIMARY KEY,
    browser_hash   TEXT NOT NULL,         -- SHA-256 of the browser-binding cookie
    csrf_token     TEXT NOT NULL,
    client_id      TEXT NOT NULL,         -- no foreign key: a CIMD client is stored only at consent
    redirect_uri   TEXT NOT NULL,         -- as sent
    state          TEXT,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    resource       TEXT,
    user_id        TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX auth_requests_client_idx ON auth_requests (client_id);
CREATE INDEX auth_requests_user_idx ON auth_requests (user_id);
CREATE INDEX auth_requests_expires_idx ON auth_requests (expires_at);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    resource       TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    family_id      TEXT                   -- the refresh family issued from this code
);
CREATE INDEX authorization_codes_client_idx ON authorization_codes (client_id);
CREATE INDEX authorization_codes_user_idx ON authorization_codes (user_id);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);
