DROP TABLE authorization_codes;
DROP TABLE auth_requests;
DROP TABLE sessions;
DROP TABLE login_failures;
DROP TABLE users;
