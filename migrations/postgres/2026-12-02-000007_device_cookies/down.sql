DROP TABLE device_cookies;
