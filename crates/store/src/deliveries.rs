//! Deploys and the changes they ship: deploys per service and environment, commits and merged
//! pull/merge requests per repository, and change markers (PagerDuty change events) per
//! service. DORA metrics read them; the store only keeps them.
//!
//! Each kind is bounded: a write that takes a service (or repository) past its cap drops that
//! key's oldest rows in the same transaction, so the newest `cap` remain. The caps are the
//! caller's ([`DEPLOYS_PER_SERVICE`] and the others are the defaults).

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Store, StoreError};

/// Deploys kept per service (across its environments).
pub const DEPLOYS_PER_SERVICE: u32 = 10_000;
/// Commits kept per repository.
pub const COMMITS_PER_REPOSITORY: u32 = 50_000;
/// Merged pull/merge requests kept per repository.
pub const PULL_REQUESTS_PER_REPOSITORY: u32 = 10_000;
/// Change markers kept per service.
pub const CHANGE_MARKERS_PER_SERVICE: u32 = 10_000;

/// How a deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    Success,
    Failure,
    Cancelled,
}

impl DeployStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployStatus::Success => "success",
            DeployStatus::Failure => "failure",
            DeployStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<DeployStatus> {
        match s {
            "success" => Some(DeployStatus::Success),
            "failure" => Some(DeployStatus::Failure),
            "cancelled" => Some(DeployStatus::Cancelled),
            _ => None,
        }
    }
}

/// Who told headroom about a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploySource {
    Github,
    Gitlab,
    Api,
    Cli,
}

impl DeploySource {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploySource::Github => "github",
            DeploySource::Gitlab => "gitlab",
            DeploySource::Api => "api",
            DeploySource::Cli => "cli",
        }
    }

    pub fn parse(s: &str) -> Option<DeploySource> {
        match s {
            "github" => Some(DeploySource::Github),
            "gitlab" => Some(DeploySource::Gitlab),
            "api" => Some(DeploySource::Api),
            "cli" => Some(DeploySource::Cli),
            _ => None,
        }
    }
}

/// A deploy to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeploy {
    pub service: String,
    pub environment: String,
    pub version: Option<String>,
    /// The deployed commit, full hex.
    pub sha: String,
    pub started: Option<Timestamp>,
    pub finished: Timestamp,
    pub status: DeployStatus,
    /// Such as `hotfix` or `rollback`.
    pub labels: Vec<String>,
    /// The commits it ships when the sender listed them; `None` leaves them to be worked out
    /// from the commits before `sha`.
    pub changes: Option<Vec<String>>,
    pub source: DeploySource,
    /// The sender's id for it (a GitHub deployment status, a workflow run, an idempotency key),
    /// unique per service and source: recording it again updates the one deploy.
    pub external_id: String,
}

/// A stored deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    pub id: i64,
    pub deploy: NewDeploy,
    pub recorded_at: Timestamp,
    /// The release gate's decision it passed (see `GateStore::link_gate_decision`).
    pub gate_decision_id: Option<i64>,
}

/// What [`DeployStore::record_deploy`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New(i64),
    /// A deploy with the same service, source and external id existed; it now holds the new
    /// values.
    Updated(i64),
}

impl Recorded {
    pub fn id(self) -> i64 {
        match self {
            Recorded::New(id) | Recorded::Updated(id) => id,
        }
    }
}

/// Which deploys to list: each given field narrows; `finished` in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployFilter {
    pub service: Option<String>,
    pub environment: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: u32,
}

/// A commit of a repository. Keyed by repository and sha: storing it again adds its file list
/// if the first copy had none, and changes nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    pub repository: String,
    pub sha: String,
    pub parents: Vec<String>,
    pub authored: Timestamp,
    pub committed: Timestamp,
    /// Paths it changed, when the sender listed them.
    pub files: Option<Vec<String>>,
}

/// A merged pull request (GitHub) or merge request (GitLab). Keyed by repository and number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestRecord {
    pub repository: String,
    pub number: i64,
    pub opened: Timestamp,
    pub merged: Timestamp,
    pub merge_sha: Option<String>,
    pub head_sha: String,
}

/// A change that is not a deploy (a PagerDuty change event): shown beside deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChangeMarker {
    pub service: String,
    pub summary: String,
    pub source: Option<String>,
    pub at: Timestamp,
    pub custom_details_json: Option<String>,
    /// `[{href, text}]` as JSON.
    pub links_json: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeMarker {
    pub id: i64,
    pub marker: NewChangeMarker,
    pub recorded_at: Timestamp,
}

pub trait DeployStore {
    /// Stores the deploy, or updates the one with its service, source and external id, and drops
    /// the service's oldest deploys once past `cap` (down to seven eighths of it). `Invalid` for an
    /// empty service, environment, sha or external id, or a start after the finish.
    fn record_deploy(
        &self,
        deploy: &NewDeploy,
        now: Timestamp,
        cap: u32,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    fn get_deploy(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<Option<Deploy>, StoreError>> + Send;

    /// Newest first (by finish, then id), at most `filter.limit`.
    fn list_deploys(
        &self,
        filter: &DeployFilter,
    ) -> impl Future<Output = Result<Vec<Deploy>, StoreError>> + Send;
}

pub trait ChangeStore {
    /// Stores the commits in one transaction (all or none), then drops each repository's oldest
    /// commits (by commit time) once past `cap` (down to seven eighths of it). Returns how many
    /// were new.
    fn upsert_commits(
        &self,
        commits: &[CommitRecord],
        cap: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The stored commits of `repository` among `shas`, in no particular order.
    fn get_commits(
        &self,
        repository: &str,
        shas: &[String],
    ) -> impl Future<Output = Result<Vec<CommitRecord>, StoreError>> + Send;

    /// Commits of `repository` whose sha starts with `prefix` (a GitLab short sha), at most
    /// `limit`, newest first.
    fn commits_by_prefix(
        &self,
        repository: &str,
        prefix: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<CommitRecord>, StoreError>> + Send;

    /// Commits of `repository` committed in `[from, to)`, oldest first.
    fn list_commits(
        &self,
        repository: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<CommitRecord>, StoreError>> + Send;

    /// Stores the merged request (replacing one with its number), then drops the repository's
    /// oldest (by merge time) once past `cap` (down to seven eighths of it).
    fn upsert_pull_request(
        &self,
        pull: &PullRequestRecord,
        cap: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Requests of `repository` merged in `[from, to)`, oldest first.
    fn list_pull_requests(
        &self,
        repository: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<PullRequestRecord>, StoreError>> + Send;

    /// Stores a change marker, then drops the service's oldest once past `cap` (down to seven
    /// eighths of it).
    fn record_change_marker(
        &self,
        marker: &NewChangeMarker,
        now: Timestamp,
        cap: u32,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Markers of `service` (or every service) at `[from, to)`, newest first, at most `limit`.
    fn list_change_markers(
        &self,
        service: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ChangeMarker>, StoreError>> + Send;
}

const DEPLOY_COLUMNS: &str = "id, service, environment, version, sha, started_at, finished_at, \
     status, labels_json, changes_json, source, external_id, recorded_at, gate_decision_id";

#[derive(sqlx::FromRow)]
struct DeployRow {
    id: i64,
    service: String,
    environment: String,
    version: Option<String>,
    sha: String,
    started_at: Option<i64>,
    finished_at: i64,
    status: String,
    labels_json: String,
    changes_json: Option<String>,
    source: String,
    external_id: String,
    recorded_at: i64,
    gate_decision_id: Option<i64>,
}

fn corrupt(op: &'static str, detail: String) -> StoreError {
    StoreError::Corrupt { op, detail }
}

impl DeployRow {
    fn read(self, op: &'static str) -> Result<Deploy, StoreError> {
        let status = DeployStatus::parse(&self.status)
            .ok_or_else(|| corrupt(op, format!("deploy {} status {:?}", self.id, self.status)))?;
        let source = DeploySource::parse(&self.source)
            .ok_or_else(|| corrupt(op, format!("deploy {} source {:?}", self.id, self.source)))?;
        let labels = serde_json::from_str(&self.labels_json)
            .map_err(|e| corrupt(op, format!("deploy {} labels: {e}", self.id)))?;
        let changes = match &self.changes_json {
            None => None,
            Some(t) => Some(
                serde_json::from_str(t)
                    .map_err(|e| corrupt(op, format!("deploy {} changes: {e}", self.id)))?,
            ),
        };
        Ok(Deploy {
            id: self.id,
            deploy: NewDeploy {
                service: self.service,
                environment: self.environment,
                version: self.version,
                sha: self.sha,
                started: self.started_at.map(Timestamp::from_millis),
                finished: Timestamp::from_millis(self.finished_at),
                status,
                labels,
                changes,
                source,
                external_id: self.external_id,
            },
            recorded_at: Timestamp::from_millis(self.recorded_at),
            gate_decision_id: self.gate_decision_id,
        })
    }
}

pub(crate) fn invalid(op: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        op,
        detail: detail.into(),
    }
}

pub(crate) fn require(op: &'static str, value: &str, what: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        Err(invalid(op, format!("{what} is empty")))
    } else {
        Ok(())
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

impl DeployStore for Store {
    async fn record_deploy(
        &self,
        d: &NewDeploy,
        now: Timestamp,
        cap: u32,
    ) -> Result<Recorded, StoreError> {
        const OP: &str = "recording a deploy";
        require(OP, &d.service, "service")?;
        require(OP, &d.environment, "environment")?;
        require(OP, &d.sha, "commit sha")?;
        require(OP, &d.external_id, "external id")?;
        if let Some(s) = d.started
            && s > d.finished
        {
            return Err(invalid(
                OP,
                format!("deploy started at {s} after it finished at {}", d.finished),
            ));
        }
        let labels = to_json(&d.labels);
        let changes = d.changes.as_ref().map(to_json);
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            // Insert unless the key exists, then update: race-free without reading first.
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO deploys (service, environment, version, sha, started_at, finished_at, \
                 status, labels_json, changes_json, source, external_id, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (service, source, external_id) DO NOTHING RETURNING id",
            )
            .bind(&d.service)
            .bind(&d.environment)
            .bind(&d.version)
            .bind(&d.sha)
            .bind(d.started.map(Timestamp::millis))
            .bind(d.finished.millis())
            .bind(d.status.as_str())
            .bind(&labels)
            .bind(&changes)
            .bind(d.source.as_str())
            .bind(&d.external_id)
            .bind(now.millis())
            .fetch_optional(&mut *tx)
            .await?;
            let recorded = match inserted {
                Some(id) => Recorded::New(id),
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "UPDATE deploys SET environment = $4, version = $5, sha = $6, \
                         started_at = $7, finished_at = $8, status = $9, labels_json = $10, \
                         changes_json = $11, recorded_at = $12 \
                         WHERE service = $1 AND source = $2 AND external_id = $3 RETURNING id",
                    )
                    .bind(&d.service)
                    .bind(d.source.as_str())
                    .bind(&d.external_id)
                    .bind(&d.environment)
                    .bind(&d.version)
                    .bind(&d.sha)
                    .bind(d.started.map(Timestamp::millis))
                    .bind(d.finished.millis())
                    .bind(d.status.as_str())
                    .bind(&labels)
                    .bind(&changes)
                    .bind(now.millis())
                    .fetch_one(&mut *tx)
                    .await?;
                    Recorded::Updated(id)
                }
            };
            bound_scope!(
                tx,
                "deploys",
                "service",
                &d.service,
                "id",
                "finished_at DESC, id DESC",
                cap,
            );
            tx.commit().await?;
            Ok(recorded)
        }.await)
        .map_err(db_err(OP))
    }

    async fn get_deploy(&self, id: i64) -> Result<Option<Deploy>, StoreError> {
        const OP: &str = "reading a deploy";
        let row: Option<DeployRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {DEPLOY_COLUMNS} FROM deploys WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err(OP))?;
        row.map(|r| r.read(OP)).transpose()
    }

    async fn list_deploys(&self, f: &DeployFilter) -> Result<Vec<Deploy>, StoreError> {
        const OP: &str = "listing deploys";
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = |c: &str| {
            n += 1;
            conditions.push(format!("{c} ${n}"));
        };
        if f.service.is_some() {
            next("service =");
        }
        if f.environment.is_some() {
            next("environment =");
        }
        if f.from.is_some() {
            next("finished_at >=");
        }
        if f.to.is_some() {
            next("finished_at <");
        }
        let sql = format!(
            "SELECT {DEPLOY_COLUMNS} FROM deploys {} ORDER BY finished_at DESC, id DESC LIMIT ${}",
            if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            },
            n + 1
        );
        let rows: Vec<DeployRow> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql);
            if let Some(s) = &f.service {
                q = q.bind(s);
            }
            if let Some(e) = &f.environment {
                q = q.bind(e);
            }
            if let Some(t) = f.from {
                q = q.bind(t.millis());
            }
            if let Some(t) = f.to {
                q = q.bind(t.millis());
            }
            q.bind(i64::from(f.limit)).fetch_all(pool).await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.read(OP)).collect()
    }
}

const COMMIT_COLUMNS: &str = "repository, sha, parents_json, authored_at, committed_at, files_json";

#[derive(sqlx::FromRow)]
struct CommitRow {
    repository: String,
    sha: String,
    parents_json: String,
    authored_at: i64,
    committed_at: i64,
    files_json: Option<String>,
}

impl CommitRow {
    fn read(self, op: &'static str) -> Result<CommitRecord, StoreError> {
        let what = |e: serde_json::Error| corrupt(op, format!("commit {}: {e}", self.sha));
        let parents = serde_json::from_str(&self.parents_json).map_err(what)?;
        let files = match &self.files_json {
            None => None,
            Some(t) => Some(serde_json::from_str(t).map_err(what)?),
        };
        Ok(CommitRecord {
            repository: self.repository,
            sha: self.sha,
            parents,
            authored: Timestamp::from_millis(self.authored_at),
            committed: Timestamp::from_millis(self.committed_at),
            files,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PullRow {
    repository: String,
    number: i64,
    opened_at: i64,
    merged_at: i64,
    merge_sha: Option<String>,
    head_sha: String,
}

const MARKER_COLUMNS: &str =
    "id, service, summary, source, at, custom_details_json, links_json, recorded_at";

#[derive(sqlx::FromRow)]
struct MarkerRow {
    id: i64,
    service: String,
    summary: String,
    source: Option<String>,
    at: i64,
    custom_details_json: Option<String>,
    links_json: String,
    recorded_at: i64,
}

impl ChangeStore for Store {
    async fn upsert_commits(&self, commits: &[CommitRecord], cap: u32) -> Result<u64, StoreError> {
        const OP: &str = "storing commits";
        for c in commits {
            require(OP, &c.repository, "repository")?;
            require(OP, &c.sha, "commit sha")?;
        }
        let mut repositories: Vec<&str> = commits.iter().map(|c| c.repository.as_str()).collect();
        repositories.sort_unstable();
        repositories.dedup();
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let mut new = 0;
            for c in commits {
                let done = sqlx::query(&format!(
                    "INSERT INTO commits ({COMMIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (repository, sha) DO NOTHING"
                ))
                .bind(&c.repository)
                .bind(&c.sha)
                .bind(to_json(&c.parents))
                .bind(c.authored.millis())
                .bind(c.committed.millis())
                .bind(c.files.as_ref().map(to_json))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    new += 1;
                } else if let Some(files) = &c.files {
                    // A push lists files; a later sighting without them must not erase them.
                    sqlx::query(
                        "UPDATE commits SET files_json = $3 \
                         WHERE repository = $1 AND sha = $2 AND files_json IS NULL",
                    )
                    .bind(&c.repository)
                    .bind(&c.sha)
                    .bind(to_json(files))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for r in &repositories {
                bound_scope!(
                    tx,
                    "commits",
                    "repository",
                    r,
                    "sha",
                    "committed_at DESC, sha DESC",
                    cap,
                );
            }
            tx.commit().await?;
            Ok(new)
        }.await)
        .map_err(db_err(OP))
    }

    async fn get_commits(
        &self,
        repository: &str,
        shas: &[String],
    ) -> Result<Vec<CommitRecord>, StoreError> {
        const OP: &str = "reading commits";
        let mut out = Vec::new();
        // Bounded statements: at most 500 binds each.
        for chunk in shas.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT {COMMIT_COLUMNS} FROM commits WHERE repository = $1 AND sha IN ({})",
                marks.join(", ")
            );
            let rows: Vec<CommitRow> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql).bind(repository);
                for s in chunk {
                    q = q.bind(s);
                }
                q.fetch_all(pool).await
            })
            .map_err(db_err(OP))?;
            for r in rows {
                out.push(r.read(OP)?);
            }
        }
        Ok(out)
    }

    async fn commits_by_prefix(
        &self,
        repository: &str,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<CommitRecord>, StoreError> {
        const OP: &str = "finding commits by prefix";
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid(
                OP,
                format!("{prefix:?} is not a hexadecimal prefix"),
            ));
        }
        // A range instead of LIKE: hex has no wildcards to escape and both dialects use the index.
        let upper = format!("{}g", prefix.to_ascii_lowercase());
        let rows: Vec<CommitRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {COMMIT_COLUMNS} FROM commits WHERE repository = $1 AND sha >= $2 \
                 AND sha < $3 ORDER BY committed_at DESC, sha LIMIT $4"
            ))
            .bind(repository)
            .bind(prefix.to_ascii_lowercase())
            .bind(&upper)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.read(OP)).collect()
    }

    async fn list_commits(
        &self,
        repository: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CommitRecord>, StoreError> {
        const OP: &str = "listing commits";
        let rows: Vec<CommitRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {COMMIT_COLUMNS} FROM commits WHERE repository = $1 AND committed_at >= $2 \
                 AND committed_at < $3 ORDER BY committed_at, sha"
            ))
            .bind(repository)
            .bind(from.millis())
            .bind(to.millis())
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.read(OP)).collect()
    }

    async fn upsert_pull_request(&self, p: &PullRequestRecord, cap: u32) -> Result<(), StoreError> {
        const OP: &str = "storing a merged pull request";
        require(OP, &p.repository, "repository")?;
        require(OP, &p.head_sha, "head sha")?;
        if p.opened > p.merged {
            return Err(invalid(
                OP,
                format!(
                    "request {} merged at {} before it was opened at {}",
                    p.number, p.merged, p.opened
                ),
            ));
        }
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            sqlx::query(
                "INSERT INTO pull_requests (repository, number, opened_at, merged_at, merge_sha, \
                 head_sha) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (repository, number) DO \
                 UPDATE SET opened_at = excluded.opened_at, merged_at = excluded.merged_at, \
                 merge_sha = excluded.merge_sha, head_sha = excluded.head_sha",
            )
            .bind(&p.repository)
            .bind(p.number)
            .bind(p.opened.millis())
            .bind(p.merged.millis())
            .bind(&p.merge_sha)
            .bind(&p.head_sha)
            .execute(&mut *tx)
            .await?;
            bound_scope!(
                tx,
                "pull_requests",
                "repository",
                &p.repository,
                "number",
                "merged_at DESC, number DESC",
                cap,
            );
            tx.commit().await
        }.await)
        .map_err(db_err(OP))
    }

    async fn list_pull_requests(
        &self,
        repository: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PullRequestRecord>, StoreError> {
        let rows: Vec<PullRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT repository, number, opened_at, merged_at, merge_sha, head_sha \
                 FROM pull_requests WHERE repository = $1 AND merged_at >= $2 AND merged_at < $3 \
                 ORDER BY merged_at, number",
            )
            .bind(repository)
            .bind(from.millis())
            .bind(to.millis())
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("listing merged pull requests"))?;
        Ok(rows
            .into_iter()
            .map(|r| PullRequestRecord {
                repository: r.repository,
                number: r.number,
                opened: Timestamp::from_millis(r.opened_at),
                merged: Timestamp::from_millis(r.merged_at),
                merge_sha: r.merge_sha,
                head_sha: r.head_sha,
            })
            .collect())
    }

    async fn record_change_marker(
        &self,
        m: &NewChangeMarker,
        now: Timestamp,
        cap: u32,
    ) -> Result<i64, StoreError> {
        const OP: &str = "recording a change marker";
        require(OP, &m.service, "service")?;
        require(OP, &m.summary, "summary")?;
        require_json(OP, &m.links_json, || "the change's links".into())?;
        if let Some(d) = &m.custom_details_json {
            require_json(OP, d, || "the change's custom_details".into())?;
        }
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO change_markers (service, summary, source, at, custom_details_json, \
                 links_json, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&m.service)
            .bind(&m.summary)
            .bind(&m.source)
            .bind(m.at.millis())
            .bind(&m.custom_details_json)
            .bind(&m.links_json)
            .bind(now.millis())
            .fetch_one(&mut *tx)
            .await?;
            bound_scope!(
                tx,
                "change_markers",
                "service",
                &m.service,
                "id",
                "at DESC, id DESC",
                cap,
            );
            tx.commit().await?;
            Ok(id)
        }.await)
        .map_err(db_err(OP))
    }

    async fn list_change_markers(
        &self,
        service: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<ChangeMarker>, StoreError> {
        let rows: Vec<MarkerRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {MARKER_COLUMNS} FROM change_markers WHERE ($1 IS NULL OR service = $1) \
                 AND at >= $2 AND at < $3 ORDER BY at DESC, id DESC LIMIT $4"
            ))
            .bind(service)
            .bind(from.millis())
            .bind(to.millis())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("listing change markers"))?;
        Ok(rows
            .into_iter()
            .map(|r| ChangeMarker {
                id: r.id,
                marker: NewChangeMarker {
                    service: r.service,
                    summary: r.summary,
                    source: r.source,
                    at: Timestamp::from_millis(r.at),
                    custom_details_json: r.custom_details_json,
                    links_json: r.links_json,
                },
                recorded_at: Timestamp::from_millis(r.recorded_at),
            })
            .collect())
    }
}
