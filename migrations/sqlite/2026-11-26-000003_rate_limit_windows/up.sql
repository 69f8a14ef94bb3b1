-- Registration attempts per registering address and fixed window, shared by every replica.
CREATE TABLE rate_limit_windows (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    attempts     INTEGER NOT NULL,
    audited      BOOLEAN NOT NULL DEFAULT FALSE,  -- client.dcr.rate_limited written for this window
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limit_windows_start_idx ON rate_limit_windows (window_start);
