-- Clients of every source (dcr, manual, cimd) and the append-only audit trail.
CREATE TABLE clients (
    client_id             TEXT PRIMARY KEY,
    source                TEXT NOT NULL CHECK (source IN ('dcr', 'manual', 'cimd')),
    status                TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason       TEXT,
    client_name           TEXT NOT NULL,
    redirect_uris         TEXT NOT NULL,  -- JSON array of raw strings
    metadata              TEXT NOT NULL,  -- JSON object: the registered metadata as echoed
    fingerprint           TEXT,           -- dedupe key of DCR clients; NULL when dedupe is off
    registrant_address    TEXT,
    registrant_user_agent TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    last_seen_at          BIGINT
);
CREATE UNIQUE INDEX clients_fingerprint_key ON clients (fingerprint);
CREATE INDEX clients_source_status_idx ON clients (source, status);
CREATE INDEX clients_created_at_idx ON clients (created_at);

CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    client_id  TEXT,                      -- no foreign key: the history outlives the client
    address    TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL              -- JSON object
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_event_at_idx ON audit_events (event, at);
CREATE INDEX audit_events_client_at_idx ON audit_events (client_id, at);
