CREATE TABLE gate_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
    reasons_json TEXT NOT NULL,
    at BIGINT NOT NULL,
    override_id BIGINT,
    actor TEXT NOT NULL
);
CREATE INDEX gate_decisions_service_at ON gate_decisions (service, environment, at);
CREATE TABLE gate_overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    reason TEXT NOT NULL,
    approver TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    until BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    CHECK (until > created_at)
);
CREATE INDEX gate_overrides_service ON gate_overrides (service, environment, until);
ALTER TABLE deploys ADD COLUMN gate_decision_id BIGINT;
