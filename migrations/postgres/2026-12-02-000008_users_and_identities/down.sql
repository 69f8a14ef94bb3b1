-- Back to local users only. Users without an email or a password (from a provider or the app)
-- have no place in that shape: SET NOT NULL fails and the transaction undoes everything.
DROP TABLE user_identities;

ALTER TABLE sessions
    DROP COLUMN method,
    DROP COLUMN auth_time;

ALTER TABLE users
    DROP CONSTRAINT users_password_local_only,
    DROP CONSTRAINT users_email_lower_present,
    DROP COLUMN role,
    DROP COLUMN email_verified,
    DROP COLUMN name,
    DROP COLUMN source,
    ALTER COLUMN email SET NOT NULL,
    ALTER COLUMN email_lower SET NOT NULL,
    ALTER COLUMN password_hash SET NOT NULL;
