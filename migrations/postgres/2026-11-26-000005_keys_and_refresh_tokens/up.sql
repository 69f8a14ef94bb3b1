-- ES256 signing keys. Exactly one 'active' key signs; a 'next' key is published before it
-- signs; a 'retired' key stays published until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    private_key  TEXT NOT NULL,            -- PKCS#8, base64
    public_jwk   TEXT NOT NULL,            -- JSON
    status       TEXT NOT NULL CHECK (status IN ('active', 'next', 'retired')),
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,          -- when it may start signing
    retire_at    BIGINT                    -- retired keys: unpublished after this
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active';

-- One family per grant (code exchange), with an absolute lifetime; one live head at a time.
CREATE TABLE refresh_families (
    family_id  TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    resource   TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX refresh_families_client_idx ON refresh_families (client_id);
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id);
CREATE INDEX refresh_families_expires_idx ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,                     -- NULL: the family's live head
    revoked_at BIGINT                      -- a head replaced by a retry inside the grace window
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
