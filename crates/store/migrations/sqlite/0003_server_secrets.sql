CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY CHECK (name <> ''),
    value TEXT NOT NULL CHECK (value <> ''),
    created_at BIGINT NOT NULL
);
