CREATE TABLE deploys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    version TEXT,
    sha TEXT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('success', 'failure', 'cancelled')),
    labels_json TEXT NOT NULL,
    changes_json TEXT,
    source TEXT NOT NULL CHECK (source IN ('github', 'gitlab', 'api', 'cli')),
    external_id TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    CHECK (started_at IS NULL OR started_at <= finished_at)
);
CREATE UNIQUE INDEX deploys_external ON deploys (service, source, external_id);
CREATE INDEX deploys_service_finished ON deploys (service, environment, finished_at);
CREATE INDEX deploys_finished ON deploys (finished_at);
CREATE TABLE commits (
    repository TEXT NOT NULL,
    sha TEXT NOT NULL,
    parents_json TEXT NOT NULL,
    authored_at BIGINT NOT NULL,
    committed_at BIGINT NOT NULL,
    files_json TEXT,
    PRIMARY KEY (repository, sha)
);
CREATE INDEX commits_committed ON commits (repository, committed_at);
CREATE TABLE pull_requests (
    repository TEXT NOT NULL,
    number BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    merged_at BIGINT NOT NULL,
    merge_sha TEXT,
    head_sha TEXT NOT NULL,
    PRIMARY KEY (repository, number)
);
CREATE INDEX pull_requests_merged ON pull_requests (repository, merged_at);
CREATE TABLE change_markers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service TEXT NOT NULL,
    summary TEXT NOT NULL,
    source TEXT,
    at BIGINT NOT NULL,
    custom_details_json TEXT,
    links_json TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX change_markers_service_at ON change_markers (service, at);
