-- PostgreSQL makes rate_limit_windows unlogged here (see migrations/postgres). SQLite has no
-- such tables; the migration exists so both backends carry the same versions.
SELECT 1;
