DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE signing_keys;
