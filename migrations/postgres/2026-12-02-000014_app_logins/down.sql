DROP TABLE app_logins;
