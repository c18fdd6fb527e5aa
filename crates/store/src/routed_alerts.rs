//! Alerts received through the Alertmanager API and webhooks, kept so the routing layer can
//! restore them at start. Labels and annotations are JSON the routing layer owns.

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Store, StoreError};

/// One received alert, keyed by its label-set fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutedAlert {
    pub fingerprint: String,
    pub labels_json: String,
    pub annotations_json: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub updated_at: Timestamp,
    pub generator_url: String,
    /// Whether `ends_at` was set by the resolve timeout rather than by the sender.
    pub timeout: bool,
    /// Where it came from (the API, a named webhook).
    pub source: String,
}

const ROUTED_ALERT_COLUMNS: &str = "fingerprint, labels_json, annotations_json, starts_at, \
     ends_at, updated_at, generator_url, timeout, source";

#[derive(sqlx::FromRow)]
struct RoutedAlertRow {
    fingerprint: String,
    labels_json: String,
    annotations_json: String,
    starts_at: i64,
    ends_at: i64,
    updated_at: i64,
    generator_url: String,
    timeout: bool,
    source: String,
}

/// Alerts per upsert statement (9 parameters each, well under either database's limit).
const UPSERT_CHUNK: usize = 100;

pub trait RoutedAlertStore {
    /// Inserts or replaces (by fingerprint) every alert of the batch in one transaction: on
    /// error nothing is written. `Invalid` when an alert ends before it starts, has an empty
    /// fingerprint, or its labels or annotations are not JSON.
    fn save_alerts(
        &self,
        alerts: &[RoutedAlert],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every stored alert, by fingerprint.
    fn load_alerts(&self) -> impl Future<Output = Result<Vec<RoutedAlert>, StoreError>> + Send;

    /// Deletes alerts whose `ends_at` is before `t`; returns how many.
    fn delete_alerts_ended_before(
        &self,
        t: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl RoutedAlertStore for Store {
    async fn save_alerts(&self, alerts: &[RoutedAlert]) -> Result<(), StoreError> {
        const OP: &str = "saving routed alerts";
        if alerts.is_empty() {
            return Ok(());
        }
        for a in alerts {
            require_json(OP, &a.labels_json, || {
                format!("labels of alert {}", a.fingerprint)
            })?;
            require_json(OP, &a.annotations_json, || {
                format!("annotations of alert {}", a.fingerprint)
            })?;
        }
        // One statement per chunk rather than per alert: a batch is one round trip and one
        // commit. Within a batch the last version of an alert wins, as one upsert each would
        // leave it (and PostgreSQL refuses to touch a row twice in one statement).
        let mut seen = std::collections::HashSet::new();
        let mut unique: Vec<&RoutedAlert> = alerts
            .iter()
            .rev()
            .filter(|a| seen.insert(a.fingerprint.as_str()))
            .collect();
        unique.reverse();
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            for chunk in unique.chunks(UPSERT_CHUNK) {
                let rows: Vec<String> = (0..chunk.len())
                    .map(|r| {
                        let p: Vec<String> = (1..=9).map(|c| format!("${}", r * 9 + c)).collect();
                        format!("({})", p.join(", "))
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO routed_alerts ({ROUTED_ALERT_COLUMNS}) VALUES {} \
                     ON CONFLICT (fingerprint) DO UPDATE SET labels_json = excluded.labels_json, \
                     annotations_json = excluded.annotations_json, starts_at = excluded.starts_at, \
                     ends_at = excluded.ends_at, updated_at = excluded.updated_at, \
                     generator_url = excluded.generator_url, timeout = excluded.timeout, \
                     source = excluded.source",
                    rows.join(", ")
                );
                let mut q = sqlx::query(&sql);
                for a in chunk {
                    q = q
                        .bind(&a.fingerprint)
                        .bind(&a.labels_json)
                        .bind(&a.annotations_json)
                        .bind(a.starts_at.millis())
                        .bind(a.ends_at.millis())
                        .bind(a.updated_at.millis())
                        .bind(&a.generator_url)
                        .bind(a.timeout)
                        .bind(&a.source);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)
        .map_err(db_err(OP))
    }

    async fn load_alerts(&self) -> Result<Vec<RoutedAlert>, StoreError> {
        let rows: Vec<RoutedAlertRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {ROUTED_ALERT_COLUMNS} FROM routed_alerts ORDER BY fingerprint"
            ))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("loading routed alerts"))?;
        Ok(rows
            .into_iter()
            .map(|r| RoutedAlert {
                fingerprint: r.fingerprint,
                labels_json: r.labels_json,
                annotations_json: r.annotations_json,
                starts_at: Timestamp::from_millis(r.starts_at),
                ends_at: Timestamp::from_millis(r.ends_at),
                updated_at: Timestamp::from_millis(r.updated_at),
                generator_url: r.generator_url,
                timeout: r.timeout,
                source: r.source,
            })
            .collect())
    }

    async fn delete_alerts_ended_before(&self, t: Timestamp) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM routed_alerts WHERE ends_at < $1")
                .bind(t.millis())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db_err("deleting ended routed alerts"))
    }
}
