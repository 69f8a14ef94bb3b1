-- What the pgbench floors (scripts/bench) need besides Gatehouse's own tables: a client, a user,
-- and one refresh family per pgbench client with its first token.
INSERT INTO clients (client_id, source, status, client_name, redirect_uris, metadata, created_at, updated_at)
  VALUES ('floor-client', 'manual', 'active', 'floor', '[]', '{}', 0, 0);
INSERT INTO users (user_id, email, email_lower, status, created_at, updated_at, source, email_verified, role)
  VALUES ('floor-user', 'floor@example.com', 'floor@example.com', 'active', 0, 0, 'local', true, 'user');
INSERT INTO refresh_families (family_id, client_id, user_id, scope, created_at, expires_at)
  SELECT 'floor-family-' || i, 'floor-client', 'floor-user', '', 0, 4000000000 FROM generate_series(0, 255) i;
INSERT INTO refresh_tokens (token_hash, family_id, created_at)
  SELECT 'floor-' || i || '-0', 'floor-family-' || i, 0 FROM generate_series(0, 255) i;
