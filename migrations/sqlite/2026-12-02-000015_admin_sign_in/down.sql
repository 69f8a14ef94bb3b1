ALTER TABLE auth_requests DROP COLUMN purpose;
