//! The conformance suite, once per backend: SQLite always, PostgreSQL when
//! `HEADROOM_TEST_POSTGRES_URL` is set (CI sets it). Without it every PostgreSQL test prints that
//! it was skipped.
//!
//! Every test gets its own database: a fresh SQLite file, or a fresh PostgreSQL schema
//! (`t_<random>`, selected with `search_path` in the connection URL) dropped afterwards, so tests
//! run in parallel.

use std::io::Write;

use headroom_store::{Store, conformance};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

const PG_ENV: &str = "HEADROOM_TEST_POSTGRES_URL";

struct SqliteDb {
    _dir: tempfile::TempDir,
    url: String,
}

impl SqliteDb {
    fn new() -> SqliteDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("headroom.db").display());
        SqliteDb { _dir: dir, url }
    }
}

/// A schema of its own in the PostgreSQL database named by `HEADROOM_TEST_POSTGRES_URL`.
struct PgSchema {
    admin_url: String,
    schema: String,
    url: String,
}

impl PgSchema {
    /// `None`, after saying so on stderr, when PostgreSQL tests are not enabled.
    async fn create(test: &str) -> Option<PgSchema> {
        let Ok(admin_url) = std::env::var(PG_ENV) else {
            // Straight to stderr: libtest would swallow `eprintln!` from a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "\nSKIPPED {test}: {PG_ENV} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            return None;
        };
        let schema = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_ENV} is set but connecting failed: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .expect("create test schema");
        let _ = conn.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options[search_path]={schema}");
        Some(PgSchema {
            admin_url,
            schema,
            url,
        })
    }

    /// Runs `test`, drops the schema whether it passed or not, then passes a panic on.
    async fn run(self, test: impl Future<Output = ()> + Send + 'static) {
        let outcome = tokio::spawn(test).await;
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("reconnect to drop test schema");
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&mut conn)
            .await
            .expect("drop test schema");
        let _ = conn.close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

macro_rules! conformance_suite {
    (store: [$($st:ident),* $(,)?], url: [$($ut:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $st() {
                    let db = SqliteDb::new();
                    let store = Store::open(&db.url).await.expect("open sqlite");
                    conformance::$st(&store).await;
                    store.close().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $ut() {
                    let db = SqliteDb::new();
                    conformance::$ut(&db.url).await;
                }
            )*
        }

        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $st() {
                    let Some(db) = PgSchema::create(concat!("postgres::", stringify!($st))).await
                    else {
                        return;
                    };
                    let url = db.url.clone();
                    db.run(async move {
                        let store = Store::open(&url).await.expect("open postgres");
                        conformance::$st(&store).await;
                        store.close().await;
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $ut() {
                    let Some(db) = PgSchema::create(concat!("postgres::", stringify!($ut))).await
                    else {
                        return;
                    };
                    let url = db.url.clone();
                    db.run(async move { conformance::$ut(&url).await }).await;
                }
            )*
        }

        /// A conformance test added to the suite but not listed here would silently never run.
        #[test]
        fn every_conformance_test_is_instantiated() {
            let mut listed = vec![$(stringify!($st)),*];
            let mut exported = conformance::STORE_TESTS.to_vec();
            listed.sort();
            exported.sort();
            assert_eq!(listed, exported);
            let mut listed = vec![$(stringify!($ut)),*];
            let mut exported = conformance::URL_TESTS.to_vec();
            listed.sort();
            exported.sort();
            assert_eq!(listed, exported);
        }
    };
}

conformance_suite! {
    store: [
        tokens_create_verify_and_list,
        tokens_record_use_once_a_minute,
        tokens_store_only_hashes,
        tokens_reject_unknown_and_malformed,
        tokens_revoke,
        tokens_names_unique_among_live,
        tokens_keep_their_scope,
        transitions_newest_first_and_filtered,
        transitions_are_atomic,
        alert_states_follow_latest_transition,
        config_history_keeps_accepted_and_rejected,
        lease_acquire_renew_release,
        lease_expires_and_can_be_stolen,
        lease_race_has_one_winner,
        silences_put_get_list_replace,
        silence_expire_ends_pending_and_active,
        silences_deleted_once_ended,
        routed_alerts_save_load_and_expire,
        routed_alerts_batch_is_atomic,
        outbox_enqueue_is_idempotent,
        outbox_enqueue_batch_is_atomic,
        outbox_claims_due_items_in_order,
        outbox_transitions_only_from_pending,
        outbox_lists_newest_first_and_counts,
        outbox_concurrent_claims_never_overlap,
        outbox_concurrent_enqueues_insert_once,
        notification_log_newest_wins_and_expires,
        notification_log_batch_is_atomic,
        escalations_open_due_and_replaced,
        incidents_numbered_and_listed,
        incident_updates_are_optimistic,
        incidents_created_once_by_reference,
        overrides_overlap_range_at_boundaries,
        overrides_reject_empty_ranges,
        action_links_work_once,
        server_secrets_first_value_wins,
        escalation_link_use_is_atomic,
        feed_keys_read_one_feed_until_rotated,
        deploys_recorded_once_per_external_id,
        deploys_listed_by_service_environment_and_time,
        deploys_refuse_bad_input_and_store_nothing,
        deploys_bounded_per_service,
        commits_upsert_keeps_files_and_bounds,
        pull_requests_and_change_markers,
        gate_decisions_listed_and_bounded,
        a_scope_past_its_cap_drops_its_oldest_eighth,
        gate_overrides_time_boxed_and_revoked_once,
        deploys_link_the_gate_decision_they_passed,
        action_runs_are_stored_with_their_outbox_item,
        action_runs_listed_filtered_and_bounded,
        action_runs_decided_once_and_finished_from_queued,
    ],
    url: [
        migrations_apply_once,
        concurrent_opens_migrate_once,
        newer_schema_is_refused,
        outbox_survives_reopening,
        tokens_survive_the_respond_scope_migration,
        edited_migration_is_refused,
        failed_migration_changes_nothing,
        the_old_runners_database_is_adopted,
        an_adopted_database_migrates_on,
        the_old_runners_newer_schema_is_refused,
    ],
}
