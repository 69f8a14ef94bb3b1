-- The dashboard's sign-in (SPEC §12): a pending request opened by `GET /admin` has purpose
-- 'admin', no client (client_id '' — the column has no foreign key) and no consent; after
-- sign-in it returns to the dashboard. Every other request is 'authorize'.
ALTER TABLE auth_requests ADD COLUMN purpose TEXT NOT NULL DEFAULT 'authorize';
