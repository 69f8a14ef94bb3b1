-- Users of every identity source (SPEC §9.3): `source`, `name`, `email_verified`, `role`,
-- nullable `email` (unique case-insensitively when present, through `email_lower`) and
-- `password_hash` (local users only); sessions record `auth_time` and the sign-in `method`;
-- `user_identities` links upstream identities to users.
--
-- SQLite cannot relax NOT NULL in place, so `users` (and `sessions`) are rebuilt the way
-- SQLite's ALTER TABLE documentation prescribes. With foreign keys on, `DROP TABLE users`
-- would delete every user first and cascade into sessions, codes, refresh families and device
-- cookies: they go off first, which only works outside a transaction (metadata.toml), and this
-- file opens its own. A failing statement leaves the transaction open; the migration runner
-- rolls it back and turns foreign keys on again (src/db/mod.rs).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE users_new (
    user_id        TEXT PRIMARY KEY,
    email          TEXT,                   -- NULL: the source gave none
    email_lower    TEXT UNIQUE,            -- emails are unique case-insensitively, when present
    password_hash  TEXT,                   -- argon2id PHC string; local users only
    status         TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('local', 'provider', 'app')),
    name           TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    role           TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    CONSTRAINT users_email_lower_present CHECK ((email IS NULL) = (email_lower IS NULL)),
    CONSTRAINT users_password_local_only CHECK (password_hash IS NULL OR source = 'local')
);
-- Every existing user is a local one; `users add` never recorded a verified email (§9.3).
INSERT INTO users_new (user_id, email, email_lower, password_hash, status, created_at, updated_at,
                       source, name, email_verified, role)
    SELECT user_id, email, email_lower, password_hash, status, created_at, updated_at,
           'local', NULL, FALSE, 'user'
    FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE sessions_new (
    session_hash TEXT PRIMARY KEY,        -- SHA-256 of the cookie value
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,           -- for the logout form
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    auth_time    BIGINT NOT NULL,         -- when the person authenticated (SPEC §10)
    method       TEXT NOT NULL            -- 'password', a provider id, or 'app'
);
-- Sessions so far all came from the password form, at their creation.
INSERT INTO sessions_new (session_hash, user_id, csrf_token, created_at, expires_at, auth_time, method)
    SELECT session_hash, user_id, csrf_token, created_at, expires_at, created_at, 'password'
    FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Identities at upstream providers, keyed by (provider id, the provider's issuer, subject):
-- pointing a provider id at another issuer never maps its subjects onto existing users.
CREATE TABLE user_identities (
    provider        TEXT NOT NULL,         -- [[login.providers]] id
    issuer          TEXT NOT NULL,         -- oidc: the issuer; github: api_base_url
    subject         TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    email           TEXT,                  -- the email the provider last gave
    created_at      BIGINT NOT NULL,
    last_sign_in_at BIGINT NOT NULL,
    PRIMARY KEY (provider, issuer, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

-- Nothing may point at a row that is not there; a violation aborts the migration (the CHECK
-- fails), instead of being reported in rows nobody reads.
CREATE TEMP TABLE migration_fk_check (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT INTO migration_fk_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE migration_fk_check;

COMMIT;
PRAGMA foreign_keys = ON;
