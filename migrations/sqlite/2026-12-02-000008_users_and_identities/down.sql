-- Back to local users only. Users without an email or a password (from a provider or the app)
-- have no place in that shape: the copy fails on NOT NULL and nothing changes.
-- The same 12 steps as up.sql, foreign keys off, so nothing cascades.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

DROP TABLE user_identities;

CREATE TABLE sessions_old (
    session_hash TEXT PRIMARY KEY,        -- SHA-256 of the cookie value
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,           -- for the logout form
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
INSERT INTO sessions_old (session_hash, user_id, csrf_token, created_at, expires_at)
    SELECT session_hash, user_id, csrf_token, created_at, expires_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE users_old (
    user_id       TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_lower   TEXT NOT NULL UNIQUE,   -- emails are unique case-insensitively
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    status        TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
INSERT INTO users_old (user_id, email, email_lower, password_hash, status, created_at, updated_at)
    SELECT user_id, email, email_lower, password_hash, status, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;

CREATE TEMP TABLE migration_fk_check (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT INTO migration_fk_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE migration_fk_check;

COMMIT;
PRAGMA foreign_keys = ON;
