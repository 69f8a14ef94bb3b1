DROP TABLE audit_events;
DROP TABLE clients;
