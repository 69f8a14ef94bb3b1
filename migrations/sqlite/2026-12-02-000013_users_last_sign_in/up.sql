-- When the user last signed in, through any source (SPEC §9.3 `users show`): sessions expire
-- and are purged, so the time is kept on the user.
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;
