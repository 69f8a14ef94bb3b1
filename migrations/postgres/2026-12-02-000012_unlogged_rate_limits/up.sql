-- Rate-limit windows (SPEC §4.3) are counters of the current window, not records of what a
-- client was told: unlogged, they cost no WAL and no WAL flush per registration. PostgreSQL
-- empties an unlogged table in crash recovery and does not copy it to standbys, so a crash or a
-- failover starts the current windows afresh (the README says so). A clean restart keeps them.
ALTER TABLE rate_limit_windows SET UNLOGGED;
