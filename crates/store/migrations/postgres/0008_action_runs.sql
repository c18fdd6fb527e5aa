-- Runs of configured actions: the audit log of automated and manual operational tasks.
CREATE TABLE action_runs (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    trigger_kind TEXT NOT NULL,
    context_json TEXT NOT NULL,
    request_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('awaiting_approval', 'queued', 'dry_run', 'delivered', 'failed', 'rejected')),
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    approved_by TEXT,
    decided_at BIGINT,
    reason TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    finished_at BIGINT,
    incident_id BIGINT
);
CREATE INDEX action_runs_created ON action_runs (created_at, id);
CREATE INDEX action_runs_action ON action_runs (action, created_at);
