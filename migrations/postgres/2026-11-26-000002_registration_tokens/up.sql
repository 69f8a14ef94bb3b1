-- RFC 7592 registration access tokens: one per registration (reused registrations included),
-- stored as SHA-256 digests. A client goes when its last token has been retired.
CREATE TABLE registration_tokens (
    token_hash  TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX registration_tokens_client_idx ON registration_tokens (client_id);
