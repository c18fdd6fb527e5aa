//! Incidents: numbered by the database, the whole document kept as JSON the incident layer
//! owns, with the columns lists filter by. Updates are optimistic: a writer names the version
//! it read, and loses to any write in between.

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Store, StoreError};

/// One stored incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Assigned by the database from a sequence, and what users call it (#42).
    pub id: i64,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub opened_at: Timestamp,
    /// `None` while the incident is open.
    pub resolved_at: Option<Timestamp>,
    /// The affected services, as JSON.
    pub services_json: String,
    /// The whole incident, as JSON.
    pub doc_json: String,
    /// 1 when created, one more at each update.
    pub version: i64,
}

/// A new incident: everything but the id and version the database gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIncident {
    pub title: String,
    pub severity: String,
    pub status: String,
    pub opened_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub services_json: String,
    pub doc_json: String,
}

/// The new contents of an incident: every field is replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    pub title: String,
    pub severity: String,
    pub status: String,
    pub opened_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub services_json: String,
    pub doc_json: String,
}

/// What [`IncidentStore::update_incident`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Written; the incident is now at `version`.
    Updated {
        version: i64,
    },
    /// The incident is not at the expected version (someone else wrote it); nothing changed.
    Conflict,
    NotFound,
}

/// Which incidents [`IncidentStore::list_incidents`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only those not resolved (`resolved_at` unset).
    pub open_only: bool,
    /// Opened at or after.
    pub opened_from: Option<Timestamp>,
    /// Opened before.
    pub opened_to: Option<Timestamp>,
    pub limit: u32,
}

const INCIDENT_COLUMNS: &str =
    "id, title, severity, status, opened_at, resolved_at, services_json, doc_json, version";

#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: i64,
    title: String,
    severity: String,
    status: String,
    opened_at: i64,
    resolved_at: Option<i64>,
    services_json: String,
    doc_json: String,
    version: i64,
}

impl From<IncidentRow> for Incident {
    fn from(r: IncidentRow) -> Incident {
        Incident {
            id: r.id,
            title: r.title,
            severity: r.severity,
            status: r.status,
            opened_at: Timestamp::from_millis(r.opened_at),
            resolved_at: r.resolved_at.map(Timestamp::from_millis),
            services_json: r.services_json,
            doc_json: r.doc_json,
            version: r.version,
        }
    }
}

fn require_incident_json(
    op: &'static str,
    services_json: &str,
    doc_json: &str,
) -> Result<(), StoreError> {
    require_json(op, services_json, || "the incident's services".into())?;
    require_json(op, doc_json, || "the incident document".into())
}

/// Inserts a new incident at version 1: its id, or `None` when another already has
/// `external_ref`.
async fn insert(
    store: &Store,
    op: &'static str,
    i: &NewIncident,
    external_ref: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    require_incident_json(op, &i.services_json, &i.doc_json)?;
    with_pool!(store, pool => {
        sqlx::query_scalar(
            "INSERT INTO incidents (title, severity, status, opened_at, resolved_at, \
             services_json, doc_json, version, external_ref) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) \
             ON CONFLICT (external_ref) DO NOTHING RETURNING id",
        )
        .bind(&i.title)
        .bind(&i.severity)
        .bind(&i.status)
        .bind(i.opened_at.millis())
        .bind(i.resolved_at.map(Timestamp::millis))
        .bind(&i.services_json)
        .bind(&i.doc_json)
        .bind(external_ref)
        .fetch_optional(pool)
        .await
    })
    .map_err(db_err(op))
}

pub trait IncidentStore {
    /// Stores a new incident at version 1 and returns the id the database gave it. Ids are
    /// never reused. `Invalid` when the services or document are not JSON.
    fn create_incident(
        &self,
        incident: &NewIncident,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Replaces incident `id` with `update` if it is still at `expected_version`, moving it to
    /// the next version.
    fn update_incident(
        &self,
        id: i64,
        expected_version: i64,
        update: &IncidentUpdate,
    ) -> impl Future<Output = Result<UpdateOutcome, StoreError>> + Send;

    fn get_incident(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;

    /// Incidents matching `filter` (opened in `[opened_from, opened_to)`), newest first (by
    /// `opened_at`, then id), at most `filter.limit`.
    fn list_incidents(
        &self,
        filter: &IncidentFilter,
    ) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;

    /// Stores a new incident under `external_ref` (a sender's own id for it, such as a GitHub
    /// issue) unless an incident already has that reference: returns the id, and whether it
    /// is new. Two concurrent calls store one incident.
    fn create_incident_once(
        &self,
        external_ref: &str,
        incident: &NewIncident,
    ) -> impl Future<Output = Result<(i64, bool), StoreError>> + Send;

    /// The incident stored under `external_ref`, if any.
    fn incident_by_ref(
        &self,
        external_ref: &str,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;
}

impl IncidentStore for Store {
    async fn create_incident(&self, i: &NewIncident) -> Result<i64, StoreError> {
        const OP: &str = "creating an incident";
        // Without a reference nothing conflicts: there is always an id.
        insert(self, OP, i, None)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                op: OP,
                detail: "the insert returned no id".into(),
            })
    }

    async fn update_incident(
        &self,
        id: i64,
        expected_version: i64,
        u: &IncidentUpdate,
    ) -> Result<UpdateOutcome, StoreError> {
        const OP: &str = "updating an incident";
        require_incident_json(OP, &u.services_json, &u.doc_json)?;
        // The version check and the write are one statement, so two writers that read the same
        // version cannot both succeed.
        let (changed, current) = with_pool!(self, pool => async {
            let changed = sqlx::query(
                "UPDATE incidents SET title = $3, severity = $4, status = $5, opened_at = $6, \
                 resolved_at = $7, services_json = $8, doc_json = $9, version = version + 1 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(id)
            .bind(expected_version)
            .bind(&u.title)
            .bind(&u.severity)
            .bind(&u.status)
            .bind(u.opened_at.millis())
            .bind(u.resolved_at.map(Timestamp::millis))
            .bind(&u.services_json)
            .bind(&u.doc_json)
            .execute(pool)
            .await?
            .rows_affected();
            if changed > 0 {
                return Ok((true, None));
            }
            let current: Option<i64> = sqlx::query_scalar("SELECT version FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok::<_, sqlx::Error>((false, current))
        }.await)
        .map_err(db_err(OP))?;
        Ok(match (changed, current) {
            (true, _) => UpdateOutcome::Updated {
                version: expected_version + 1,
            },
            (false, Some(_)) => UpdateOutcome::Conflict,
            (false, None) => UpdateOutcome::NotFound,
        })
    }

    async fn get_incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        let row: Option<IncidentRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err("reading an incident"))?;
        Ok(row.map(Incident::from))
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let rows: Vec<IncidentRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents \
                 WHERE (NOT $1 OR resolved_at IS NULL) \
                 AND ($2 IS NULL OR opened_at >= $2) AND ($3 IS NULL OR opened_at < $3) \
                 ORDER BY opened_at DESC, id DESC LIMIT $4"
            ))
            .bind(filter.open_only)
            .bind(filter.opened_from.map(Timestamp::millis))
            .bind(filter.opened_to.map(Timestamp::millis))
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("listing incidents"))?;
        Ok(rows.into_iter().map(Incident::from).collect())
    }

    async fn create_incident_once(
        &self,
        external_ref: &str,
        i: &NewIncident,
    ) -> Result<(i64, bool), StoreError> {
        const OP: &str = "creating an incident once";
        if external_ref.trim().is_empty() {
            return Err(StoreError::Invalid {
                op: OP,
                detail: "the external reference is empty".into(),
            });
        }
        let created = insert(self, OP, i, Some(external_ref)).await?;
        if let Some(id) = created {
            return Ok((id, true));
        }
        match self.incident_by_ref(external_ref).await? {
            Some(id) => Ok((id, false)),
            None => Err(StoreError::Corrupt {
                op: OP,
                detail: format!("{external_ref:?} conflicted but no incident holds it"),
            }),
        }
    }

    async fn incident_by_ref(&self, external_ref: &str) -> Result<Option<i64>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM incidents WHERE external_ref = $1")
                .bind(external_ref)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err("finding an incident by reference"))
    }
}
