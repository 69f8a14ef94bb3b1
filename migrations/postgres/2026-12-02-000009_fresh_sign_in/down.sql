ALTER TABLE auth_requests DROP COLUMN fresh_sign_in;
