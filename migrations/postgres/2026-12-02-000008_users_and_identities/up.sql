-- Users of every identity source (SPEC §9.3): `source`, `name`, `email_verified`, `role`,
-- nullable `email` (unique case-insensitively when present, through `email_lower`) and
-- `password_hash` (local users only); sessions record `auth_time` and the sign-in `method`;
-- `user_identities` links upstream identities to users. PostgreSQL alters in place (one
-- transaction, nothing dropped, nothing cascades); the SQLite twin rebuilds its tables.

-- Every existing user is a local one; `users add` never recorded a verified email (§9.3).
ALTER TABLE users
    ADD COLUMN source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'provider', 'app')),
    ADD COLUMN name TEXT,
    ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    ALTER COLUMN email DROP NOT NULL,           -- NULL: the source gave none
    ALTER COLUMN email_lower DROP NOT NULL,     -- still UNIQUE: unique when present
    ALTER COLUMN password_hash DROP NOT NULL,   -- local users only
    ADD CONSTRAINT users_email_lower_present CHECK ((email IS NULL) = (email_lower IS NULL)),
    ADD CONSTRAINT users_password_local_only CHECK (password_hash IS NULL OR source = 'local');
ALTER TABLE users ALTER COLUMN source DROP DEFAULT;

-- Sessions so far all came from the password form, at their creation.
ALTER TABLE sessions
    ADD COLUMN auth_time BIGINT,                -- when the person authenticated (SPEC §10)
    ADD COLUMN method TEXT NOT NULL DEFAULT 'password';  -- 'password', a provider id, or 'app'
UPDATE sessions SET auth_time = created_at;
ALTER TABLE sessions
    ALTER COLUMN auth_time SET NOT NULL,
    ALTER COLUMN method DROP DEFAULT;

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
