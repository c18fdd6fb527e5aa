CREATE TABLE silences (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    matchers_json TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX silences_ends_at ON silences (ends_at);

CREATE TABLE routed_alerts (
    fingerprint TEXT PRIMARY KEY CHECK (fingerprint <> ''),
    labels_json TEXT NOT NULL,
    annotations_json TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    generator_url TEXT NOT NULL,
    timeout BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX routed_alerts_ends_at ON routed_alerts (ends_at);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL CHECK (attempts >= 0),
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error TEXT,
    finished_at BIGINT,
    CHECK ((state = 'pending') = (finished_at IS NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_state_created ON outbox (state, created_at);

CREATE TABLE notification_log (
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (receiver, group_key),
    CHECK (expires_at > sent_at)
);
CREATE INDEX notification_log_expires_at ON notification_log (expires_at);

CREATE TABLE escalations (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    subject TEXT NOT NULL,
    policy TEXT NOT NULL,
    state_json TEXT NOT NULL,
    next_at BIGINT,
    open BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX escalations_due ON escalations (next_at) WHERE open;

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT,
    services_json TEXT NOT NULL,
    doc_json TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1)
);
CREATE INDEX incidents_opened_at ON incidents (opened_at);
CREATE INDEX incidents_open ON incidents (opened_at) WHERE resolved_at IS NULL;

CREATE TABLE schedule_overrides (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    schedule TEXT NOT NULL,
    user_id TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX schedule_overrides_schedule_starts ON schedule_overrides (schedule, starts_at);

CREATE TABLE action_links (
    link_id TEXT PRIMARY KEY CHECK (link_id <> ''),
    used_at BIGINT NOT NULL
);
CREATE INDEX action_links_used_at ON action_links (used_at);
