CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'ingest', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE alert_transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    slo TEXT NOT NULL,
    alert_group TEXT NOT NULL,
    severity TEXT NOT NULL,
    from_state TEXT NOT NULL CHECK (from_state IN ('inactive', 'pending', 'firing', 'resolved')),
    to_state TEXT NOT NULL CHECK (to_state IN ('inactive', 'pending', 'firing', 'resolved')),
    values_json TEXT NOT NULL
);
CREATE INDEX alert_transitions_at ON alert_transitions (at);
CREATE INDEX alert_transitions_slo_at ON alert_transitions (slo, at);

CREATE TABLE alert_states (
    slo TEXT NOT NULL,
    alert_group TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('inactive', 'pending', 'firing', 'resolved')),
    since BIGINT NOT NULL,
    PRIMARY KEY (slo, alert_group, severity)
);

CREATE TABLE config_loads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_hash TEXT NOT NULL,
    loaded_at BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX config_loads_loaded_at ON config_loads (loaded_at);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
