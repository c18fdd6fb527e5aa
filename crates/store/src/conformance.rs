//! The behaviour every backend must show, as async test functions. `tests/conformance.rs` runs
//! each one against SQLite and PostgreSQL; a new backend runs them all the same way.
//!
//! Functions in [`STORE_TESTS`] take a freshly opened, empty [`Store`]; those in [`URL_TESTS`]
//! take the address of an empty database and open it themselves (they test opening).
//! They panic on failure, like `assert!`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use headroom_core::{GroupKey, Span, Timestamp};
use sha2::{Digest, Sha256};
use sqlx::Executor;
use tokio::sync::Barrier;

use crate::migrations::known_versions;
use crate::{
    ActionLinkStore, AlertStateRecord, AlertStore, AlertTransition, AppliedMigration, ConfigLoad,
    ConfigStore, Enqueued, EscalationRecord, EscalationStore, ExpireOutcome, FEED_KEY_PREFIX,
    FeedKeyStore, Incident, IncidentFilter, IncidentStore, IncidentUpdate, LeaseStore, NewIncident,
    NewOutboxItem, NotificationLogEntry, NotificationLogStore, OutboxCounts, OutboxItem,
    OutboxState, OutboxStore, OverrideStore, RoutedAlert, RoutedAlertStore, ScheduleOverride,
    Scope, SecretStore, SilenceRecord, SilenceStore, Store, StoreError, TokenInfo, TokenStore,
    UpdateOutcome,
};
use crate::{ActionRun, ActionRunFilter, ActionRunState, ActionRunStore};
use crate::{
    ChangeMarker, ChangeStore, CommitRecord, DeployFilter, DeploySource, DeployStatus, DeployStore,
    NewChangeMarker, NewDeploy, PullRequestRecord, Recorded,
};
use crate::{GateStore, NewGateDecision, NewGateOverride, Revoked};

/// Every test taking `&Store`; the harness checks it instantiates exactly these.
pub const STORE_TESTS: &[&str] = &[
    "tokens_create_verify_and_list",
    "tokens_record_use_once_a_minute",
    "tokens_store_only_hashes",
    "tokens_reject_unknown_and_malformed",
    "tokens_revoke",
    "tokens_names_unique_among_live",
    "tokens_keep_their_scope",
    "transitions_newest_first_and_filtered",
    "transitions_are_atomic",
    "alert_states_follow_latest_transition",
    "config_history_keeps_accepted_and_rejected",
    "lease_acquire_renew_release",
    "lease_expires_and_can_be_stolen",
    "lease_race_has_one_winner",
    "silences_put_get_list_replace",
    "silence_expire_ends_pending_and_active",
    "silences_deleted_once_ended",
    "routed_alerts_save_load_and_expire",
    "routed_alerts_batch_is_atomic",
    "outbox_enqueue_is_idempotent",
    "outbox_enqueue_batch_is_atomic",
    "outbox_claims_due_items_in_order",
    "outbox_transitions_only_from_pending",
    "outbox_lists_newest_first_and_counts",
    "outbox_concurrent_claims_never_overlap",
    "outbox_concurrent_enqueues_insert_once",
    "notification_log_newest_wins_and_expires",
    "notification_log_batch_is_atomic",
    "escalations_open_due_and_replaced",
    "incidents_numbered_and_listed",
    "incident_updates_are_optimistic",
    "incidents_created_once_by_reference",
    "overrides_overlap_range_at_boundaries",
    "overrides_reject_empty_ranges",
    "action_links_work_once",
    "server_secrets_first_value_wins",
    "escalation_link_use_is_atomic",
    "feed_keys_read_one_feed_until_rotated",
    "deploys_recorded_once_per_external_id",
    "deploys_listed_by_service_environment_and_time",
    "deploys_refuse_bad_input_and_store_nothing",
    "deploys_bounded_per_service",
    "commits_upsert_keeps_files_and_bounds",
    "pull_requests_and_change_markers",
    "gate_decisions_listed_and_bounded",
    "a_scope_past_its_cap_drops_its_oldest_eighth",
    "gate_overrides_time_boxed_and_revoked_once",
    "deploys_link_the_gate_decision_they_passed",
    "action_runs_are_stored_with_their_outbox_item",
    "action_runs_listed_filtered_and_bounded",
    "action_runs_decided_once_and_finished_from_queued",
];

/// Every test taking a database address.
pub const URL_TESTS: &[&str] = &[
    "migrations_apply_once",
    "concurrent_opens_migrate_once",
    "newer_schema_is_refused",
    "outbox_survives_reopening",
    "tokens_survive_the_respond_scope_migration",
    "edited_migration_is_refused",
    "failed_migration_changes_nothing",
    "the_old_runners_database_is_adopted",
    "an_adopted_database_migrates_on",
    "the_old_runners_newer_schema_is_refused",
];

// ---- tokens ----

/// An arbitrary instant (2023-11-14T22:13:20Z) the tests count from.
const T0: Timestamp = Timestamp(1_700_000_000_000);

fn secs(s: i64) -> Timestamp {
    T0 + Span::SECOND * s
}

pub async fn tokens_create_verify_and_list(store: &Store) {
    let (ci, ci_plain) = store
        .create_token("ci", Scope::Ingest, secs(0))
        .await
        .unwrap();
    assert_eq!(ci_plain.len(), 67, "hr_ + 64 hex digits: {ci_plain}");
    assert!(ci_plain.starts_with("hr_"), "{ci_plain}");
    assert!(ci_plain[3..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(ci.id.starts_with("tok_"), "{}", ci.id);
    assert_eq!(ci.name, "ci");
    assert_eq!(ci.scope, Scope::Ingest);
    assert_eq!(ci.prefix, ci_plain[..11]);
    assert_eq!(ci.created_at, secs(0));
    assert_eq!(ci.last_used_at, None);
    assert_eq!(ci.revoked_at, None);

    let verified = store
        .verify_token(&ci_plain, secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        verified,
        TokenInfo {
            last_used_at: Some(secs(1)),
            ..ci.clone()
        }
    );

    let (bot, bot_plain) = store
        .create_token("deploy-bot", Scope::Admin, secs(2))
        .await
        .unwrap();
    assert_ne!(bot.id, ci.id);
    assert_ne!(bot_plain, ci_plain);
    assert_eq!(
        store
            .verify_token(&bot_plain, secs(3))
            .await
            .unwrap()
            .map(|t| t.id),
        Some(bot.id.clone())
    );

    // Oldest first; each use persisted.
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.name.as_str(), t.created_at, t.last_used_at))
            .collect::<Vec<_>>(),
        vec![
            ("ci", secs(0), Some(secs(1))),
            ("deploy-bot", secs(2), Some(secs(3)))
        ]
    );
    assert_eq!(store.count_tokens().await.unwrap(), 2);
}

pub async fn tokens_record_use_once_a_minute(store: &Store) {
    let (info, plain) = store
        .create_token("ui", Scope::Read, secs(0))
        .await
        .unwrap();
    let last_used = |t: Option<TokenInfo>| t.unwrap().last_used_at;
    assert_eq!(
        last_used(store.verify_token(&plain, secs(10)).await.unwrap()),
        Some(secs(10))
    );
    // Within a minute of the recorded use: not rewritten.
    assert_eq!(
        last_used(store.verify_token(&plain, secs(69)).await.unwrap()),
        Some(secs(10))
    );
    assert_eq!(
        store.list_tokens().await.unwrap()[0].last_used_at,
        Some(secs(10))
    );
    // A minute later: rewritten.
    assert_eq!(
        last_used(store.verify_token(&plain, secs(70)).await.unwrap()),
        Some(secs(70))
    );
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(
        (listed[0].id.as_str(), listed[0].last_used_at),
        (info.id.as_str(), Some(secs(70)))
    );
}

pub async fn tokens_store_only_hashes(store: &Store) {
    let (info, plaintext) = store
        .create_token("keeper", Scope::Admin, T0)
        .await
        .unwrap();
    let rows: Vec<(String, String, String, String, String)> = with_pool!(store, pool => {
        sqlx::query_as("SELECT id, name, scope, token_hash, prefix FROM tokens")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(rows.len(), 1);
    let (id, name, scope, hash, prefix) = &rows[0];
    assert_eq!(
        (id.as_str(), name.as_str(), scope.as_str()),
        (info.id.as_str(), "keeper", "admin")
    );
    assert_eq!(*hash, hex::encode(Sha256::digest(plaintext.as_bytes())));
    assert_eq!(*prefix, plaintext[..11]);
    // Past the displayed prefix, not a fragment of the secret is anywhere in the row.
    let hidden = &plaintext[11..];
    for column in [id, name, scope, hash, prefix] {
        assert!(!column.contains(hidden), "secret stored in {column:?}");
        assert!(!column.contains(&hidden[..16]), "secret part in {column:?}");
    }
    // What the database holds is not itself a credential.
    assert_eq!(store.verify_token(hash, T0).await.unwrap(), None);
    assert_eq!(
        store.verify_token(&format!("hr_{hash}"), T0).await.unwrap(),
        None
    );
}

pub async fn tokens_reject_unknown_and_malformed(store: &Store) {
    let (info, plaintext) = store.create_token("ci", Scope::Read, T0).await.unwrap();
    let last = plaintext.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &plaintext[..66],
        if last == '0' { '1' } else { '0' }
    );
    for attempt in [
        forged.as_str(),
        "",
        "hr_",
        &plaintext[..66],
        &format!("{plaintext} "),
        &plaintext.to_uppercase(),
        &format!("hr_{}", "0".repeat(64)),
    ] {
        assert_eq!(
            store.verify_token(attempt, secs(1)).await.unwrap(),
            None,
            "{attempt:?}"
        );
    }
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, info.id);
    assert_eq!(listed[0].last_used_at, None, "failed attempts are no use");
}

pub async fn tokens_revoke(store: &Store) {
    let (a, a_plain) = store.create_token("a", Scope::Read, secs(0)).await.unwrap();
    let (b, b_plain) = store
        .create_token("b", Scope::Ingest, secs(1))
        .await
        .unwrap();
    assert_eq!(store.count_tokens().await.unwrap(), 2);

    assert!(store.revoke_token(&a.id, secs(5)).await.unwrap());
    assert_eq!(store.verify_token(&a_plain, secs(6)).await.unwrap(), None);
    assert_eq!(
        store
            .verify_token(&b_plain, secs(6))
            .await
            .unwrap()
            .map(|t| t.id),
        Some(b.id.clone())
    );
    assert_eq!(store.count_tokens().await.unwrap(), 1);

    let revoked = |tokens: &[TokenInfo]| -> Vec<(String, Option<Timestamp>, bool)> {
        tokens
            .iter()
            .map(|t| (t.name.clone(), t.revoked_at, t.is_revoked()))
            .collect()
    };
    let want = vec![
        ("a".to_string(), Some(secs(5)), true),
        ("b".to_string(), None, false),
    ];
    assert_eq!(
        revoked(&store.list_tokens().await.unwrap()),
        want,
        "revoked tokens stay listed"
    );

    // Revoking again keeps the first revocation time.
    assert!(store.revoke_token(&a.id, secs(9)).await.unwrap());
    assert_eq!(revoked(&store.list_tokens().await.unwrap()), want);

    assert!(!store.revoke_token("tok_missing", secs(9)).await.unwrap());
    assert_eq!(store.count_tokens().await.unwrap(), 1);
}

pub async fn tokens_names_unique_among_live(store: &Store) {
    let (first, _) = store.create_token("ci", Scope::Read, T0).await.unwrap();
    match store.create_token("ci", Scope::Admin, T0).await {
        Err(e @ StoreError::Conflict { .. }) => {
            assert!(e.to_string().contains("\"ci\""), "{e}")
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 1, "the conflicting token was not stored");
    assert_eq!(listed[0].scope, Scope::Read);

    assert!(matches!(
        store.create_token(" ", Scope::Read, T0).await,
        Err(StoreError::Invalid { .. })
    ));

    // Rotation: revoke, then reuse the name.
    assert!(store.revoke_token(&first.id, secs(1)).await.unwrap());
    let (second, plain) = store
        .create_token("ci", Scope::Admin, secs(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .verify_token(&plain, secs(3))
            .await
            .unwrap()
            .map(|t| t.scope),
        Some(Scope::Admin)
    );
    let listed = store.list_tokens().await.unwrap();
    let live: Vec<&str> = listed
        .iter()
        .filter(|t| !t.is_revoked())
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(live, vec![second.id.as_str()]);
}

pub async fn tokens_keep_their_scope(store: &Store) {
    for scope in Scope::ALL {
        let (_, plain) = store
            .create_token(&format!("{scope}-token"), scope, T0)
            .await
            .unwrap();
        let got = store.verify_token(&plain, T0).await.unwrap().unwrap();
        assert_eq!(got.scope, scope);
        assert_eq!(got.name, format!("{scope}-token"));
    }
}

/// Tokens made before the `respond` scope existed keep their id, hash and scope through the
/// migration that adds it (SQLite rebuilds the table), and `respond` tokens work after it.
pub async fn tokens_survive_the_respond_scope_migration(url: &str) {
    let store = Store::connect(url).await.unwrap();
    assert_eq!(store.migrate_to(3).await.unwrap(), [1, 2, 3]);
    let before = tokens_of_version_3(&store).await;
    assert_eq!(store.migrate_to(4).await.unwrap(), [4]);
    assert_tokens_survived(&store, &before).await;
    store.close().await;
}

/// One token of each scope version 3 knows, and proof it knows no `respond`.
async fn tokens_of_version_3(store: &Store) -> Vec<(TokenInfo, String)> {
    let mut made = Vec::new();
    for scope in [Scope::Read, Scope::Ingest, Scope::Admin] {
        made.push(
            store
                .create_token(&format!("{scope}"), scope, T0)
                .await
                .unwrap(),
        );
    }
    assert!(
        store
            .create_token("early", Scope::Respond, T0)
            .await
            .is_err(),
        "version 3 does not know respond"
    );
    made
}

/// `before` still verify, unchanged, and a `respond` token can be made.
async fn assert_tokens_survived(store: &Store, before: &[(TokenInfo, String)]) {
    for (info, plain) in before {
        let kept = TokenInfo {
            last_used_at: Some(T0),
            ..info.clone()
        };
        assert_eq!(store.verify_token(plain, T0).await.unwrap(), Some(kept));
    }
    let (_, plain) = store
        .create_token("responder", Scope::Respond, T0)
        .await
        .unwrap();
    assert_eq!(
        store
            .verify_token(&plain, T0)
            .await
            .unwrap()
            .map(|t| t.scope),
        Some(Scope::Respond)
    );
}

// ---- alerts ----

fn transition(at: i64, slo: &str, group: &str, sev: &str, from: &str, to: &str) -> AlertTransition {
    AlertTransition {
        at: Timestamp::from_millis(at),
        slo: slo.into(),
        group: GroupKey::parse(group).unwrap(),
        severity: sev.into(),
        from: from.into(),
        to: to.into(),
        values_json: format!(r#"{{"burn_rate":{},"at":{at}}}"#, at / 100),
    }
}

fn keys(ts: &[AlertTransition]) -> Vec<(i64, &str, &str, &str)> {
    ts.iter()
        .map(|t| {
            (
                t.at.millis(),
                t.slo.as_str(),
                t.severity.as_str(),
                t.to.as_str(),
            )
        })
        .collect()
}

const ALL: (Timestamp, Timestamp) = (Timestamp(0), Timestamp(i64::MAX));

pub async fn transitions_newest_first_and_filtered(store: &Store) {
    let fired = transition(2000, "api", "", "page", "pending", "firing");
    store
        .record_transitions(&[
            transition(1000, "api", "", "page", "inactive", "pending"),
            fired.clone(),
            transition(1500, "web", "", "ticket", "inactive", "pending"),
        ])
        .await
        .unwrap();
    // Same instant as `fired`, recorded later: newer.
    store
        .record_transitions(&[transition(2000, "api", "", "ticket", "inactive", "pending")])
        .await
        .unwrap();

    let all = store.transitions(None, ALL.0, ALL.1, 100).await.unwrap();
    assert_eq!(
        keys(&all),
        vec![
            (2000, "api", "ticket", "pending"),
            (2000, "api", "page", "firing"),
            (1500, "web", "ticket", "pending"),
            (1000, "api", "page", "pending"),
        ]
    );
    assert_eq!(all[1], fired, "every field round-trips");

    let api = store
        .transitions(Some("api"), ALL.0, ALL.1, 100)
        .await
        .unwrap();
    assert_eq!(
        keys(&api),
        vec![
            (2000, "api", "ticket", "pending"),
            (2000, "api", "page", "firing"),
            (1000, "api", "page", "pending"),
        ]
    );

    // [from, to): 1000 is in, 2000 is out.
    let range = store
        .transitions(None, Timestamp(1000), Timestamp(2000), 100)
        .await
        .unwrap();
    assert_eq!(
        keys(&range),
        vec![
            (1500, "web", "ticket", "pending"),
            (1000, "api", "page", "pending")
        ]
    );

    let limited = store.transitions(None, ALL.0, ALL.1, 2).await.unwrap();
    assert_eq!(keys(&limited), keys(&all[..2]));
    assert_eq!(
        store
            .transitions(Some("nope"), ALL.0, ALL.1, 100)
            .await
            .unwrap(),
        vec![]
    );
}

pub async fn transitions_are_atomic(store: &Store) {
    let first = transition(1000, "api", "", "page", "inactive", "pending");
    store
        .record_transitions(std::slice::from_ref(&first))
        .await
        .unwrap();
    let pending = vec![AlertStateRecord {
        slo: "api".into(),
        group: GroupKey::ungrouped(),
        severity: "page".into(),
        state: "pending".into(),
        since: Timestamp(1000),
    }];

    // The second row breaks the state check after the first was written: all of it rolls back.
    let bad = [
        transition(2000, "api", "", "page", "pending", "firing"),
        transition(2001, "web", "", "page", "inactive", "exploded"),
    ];
    match store.record_transitions(&bad).await {
        Err(StoreError::Invalid { .. }) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        store.transitions(None, ALL.0, ALL.1, 100).await.unwrap(),
        vec![first.clone()]
    );
    assert_eq!(store.alert_states().await.unwrap(), pending);

    let mut not_json = transition(3000, "api", "", "page", "pending", "firing");
    not_json.values_json = "{burn".into();
    assert!(matches!(
        store.record_transitions(&[not_json]).await,
        Err(StoreError::Invalid { .. })
    ));
    store.record_transitions(&[]).await.unwrap();
    assert_eq!(
        store.transitions(None, ALL.0, ALL.1, 100).await.unwrap(),
        vec![first]
    );
    assert_eq!(store.alert_states().await.unwrap(), pending);
}

pub async fn alert_states_follow_latest_transition(store: &Store) {
    assert_eq!(store.alert_states().await.unwrap(), vec![]);
    store
        .record_transitions(&[
            transition(1000, "api", "", "page", "inactive", "pending"),
            transition(2000, "api", "", "page", "pending", "firing"),
            transition(1500, "api", "", "ticket", "inactive", "pending"),
            transition(1200, "web", "region=eu", "page", "inactive", "pending"),
            transition(1300, "web", "region=us", "page", "inactive", "firing"),
        ])
        .await
        .unwrap();
    let state = |slo: &str, group: &str, sev: &str, state: &str, since: i64| AlertStateRecord {
        slo: slo.into(),
        group: GroupKey::parse(group).unwrap(),
        severity: sev.into(),
        state: state.into(),
        since: Timestamp(since),
    };
    assert_eq!(
        store.alert_states().await.unwrap(),
        vec![
            state("api", "", "page", "firing", 2000),
            state("api", "", "ticket", "pending", 1500),
            state("web", "region=eu", "page", "pending", 1200),
            state("web", "region=us", "page", "firing", 1300),
        ]
    );

    // A late, older transition goes into the history but does not roll the state back.
    store
        .record_transitions(&[transition(1800, "api", "", "page", "firing", "resolved")])
        .await
        .unwrap();
    assert_eq!(
        store.alert_states().await.unwrap()[0],
        state("api", "", "page", "firing", 2000)
    );
    assert_eq!(
        store
            .transitions(Some("api"), ALL.0, ALL.1, 100)
            .await
            .unwrap()
            .len(),
        4
    );

    store
        .record_transitions(&[
            transition(3000, "api", "", "page", "firing", "resolved"),
            transition(3000, "web", "region=us", "page", "firing", "resolved"),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.alert_states().await.unwrap(),
        vec![
            state("api", "", "page", "resolved", 3000),
            state("api", "", "ticket", "pending", 1500),
            state("web", "region=eu", "page", "pending", 1200),
            state("web", "region=us", "page", "resolved", 3000),
        ]
    );
}

// ---- config ----

pub async fn config_history_keeps_accepted_and_rejected(store: &Store) {
    assert_eq!(store.config_history(10).await.unwrap(), vec![]);
    let load = |hash: &str, at: i64, ok: bool, message: &str| ConfigLoad {
        version_hash: hash.into(),
        loaded_at: Timestamp(at),
        ok,
        message: message.into(),
    };
    let loads = [
        load("sha256:aaa", 1000, true, "loaded 3 SLOs"),
        load(
            "sha256:bbb",
            2000,
            false,
            "slos.yaml:4:3: objective 120 is out of range; kept sha256:aaa",
        ),
        load("sha256:ccc", 3000, true, "loaded 4 SLOs"),
    ];
    for l in &loads {
        store
            .record_config(&l.version_hash, l.loaded_at, l.ok, &l.message)
            .await
            .unwrap();
    }
    let newest_first: Vec<ConfigLoad> = loads.iter().rev().cloned().collect();
    assert_eq!(store.config_history(10).await.unwrap(), newest_first);
    assert_eq!(store.config_history(2).await.unwrap(), newest_first[..2]);
}

// ---- leases ----

const TTL: Span = Span(10_000);

async fn lease_row(store: &Store, name: &str) -> Option<(String, i64)> {
    with_pool!(store, pool => {
        sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await
    })
    .unwrap()
}

pub async fn lease_acquire_renew_release(store: &Store) {
    let at = secs;
    assert!(
        store
            .try_acquire_lease("leader", "a", T0, TTL)
            .await
            .unwrap()
    );
    assert_eq!(
        lease_row(store, "leader").await,
        Some(("a".into(), at(10).millis()))
    );
    assert!(
        !store
            .try_acquire_lease("leader", "b", at(1), TTL)
            .await
            .unwrap()
    );

    // Renewal moves the expiry: at 12s b would have had it without.
    assert!(
        store
            .try_acquire_lease("leader", "a", at(5), TTL)
            .await
            .unwrap()
    );
    assert_eq!(
        lease_row(store, "leader").await,
        Some(("a".into(), at(15).millis()))
    );
    assert!(
        !store
            .try_acquire_lease("leader", "b", at(12), TTL)
            .await
            .unwrap()
    );

    // Leases are independent by name.
    assert!(
        store
            .try_acquire_lease("janitor", "b", at(12), TTL)
            .await
            .unwrap()
    );

    assert!(
        !store.release_lease("leader", "b").await.unwrap(),
        "not b's"
    );
    assert!(store.release_lease("leader", "a").await.unwrap());
    assert_eq!(lease_row(store, "leader").await, None);
    assert!(
        store
            .try_acquire_lease("leader", "b", at(12), TTL)
            .await
            .unwrap()
    );
    assert!(!store.release_lease("leader", "a").await.unwrap());
    assert_eq!(
        lease_row(store, "janitor").await,
        Some(("b".into(), at(22).millis()))
    );

    assert!(matches!(
        store.try_acquire_lease("leader", "a", T0, Span(0)).await,
        Err(StoreError::Invalid { .. })
    ));
}

pub async fn lease_expires_and_can_be_stolen(store: &Store) {
    let expiry = T0 + TTL;
    assert!(
        store
            .try_acquire_lease("leader", "a", T0, TTL)
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_acquire_lease("leader", "b", expiry - Span(1), TTL)
            .await
            .unwrap(),
        "still a's 1ms before expiry"
    );
    assert!(
        store
            .try_acquire_lease("leader", "b", expiry, TTL)
            .await
            .unwrap(),
        "expired at expires_at"
    );
    assert_eq!(
        lease_row(store, "leader").await,
        Some(("b".into(), (expiry + TTL).millis()))
    );
    // The old holder cannot renew its way back, nor release b's lease.
    assert!(
        !store
            .try_acquire_lease("leader", "a", expiry + Span(1), TTL)
            .await
            .unwrap()
    );
    assert!(!store.release_lease("leader", "a").await.unwrap());
    assert_eq!(
        lease_row(store, "leader").await.map(|(h, _)| h),
        Some("b".into())
    );
}

pub async fn lease_race_has_one_winner(store: &Store) {
    const CONTENDERS: usize = 4;
    // Each round starts when the previous round's lease has expired, so every round is a race
    // for a free (first round) or expired lease.
    for round in 0..8i64 {
        let now = T0 + TTL * round;
        let start = Arc::new(Barrier::new(CONTENDERS));
        let tasks: Vec<_> = (0..CONTENDERS)
            .map(|i| {
                let (store, start) = (store.clone(), start.clone());
                let holder = format!("r{round}-h{i}");
                tokio::spawn(async move {
                    start.wait().await;
                    let won = store
                        .try_acquire_lease("race", &holder, now, TTL)
                        .await
                        .unwrap();
                    (holder, won)
                })
            })
            .collect();
        let mut winners = HashSet::new();
        for t in tasks {
            let (holder, won) = t.await.unwrap();
            if won {
                winners.insert(holder);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let (holder, expires_at) = lease_row(store, "race").await.unwrap();
        assert!(winners.contains(&holder), "{holder} holds, {winners:?} won");
        assert_eq!(expires_at, (now + TTL).millis());
    }
}

// ---- opening and migrations ----

fn versions(store: &Store) -> Vec<i64> {
    known_versions(store.backend())
        .into_iter()
        .map(|(v, _)| v)
        .collect()
}

/// Every migration of `store`'s dialect as recorded when applied at `applied_at(version)`.
fn recorded_as(store: &Store, applied_at: impl Fn(i64) -> Timestamp) -> Vec<AppliedMigration> {
    known_versions(store.backend())
        .into_iter()
        .map(|(version, name)| AppliedMigration {
            version,
            name: name.into_owned(),
            applied_at: applied_at(version),
        })
        .collect()
}

async fn table_exists(store: &Store, table: &str) -> bool {
    with_pool!(store, (pool, backend) => {
        sqlx::query_scalar(backend.table_exists_sql())
            .bind(table)
            .fetch_one(pool)
            .await
    })
    .unwrap()
}

pub async fn migrations_apply_once(url: &str) {
    let store = Store::open(url).await.unwrap();
    let applied = store.applied_migrations().await.unwrap();
    assert_eq!(
        applied.iter().map(|m| m.version).collect::<Vec<_>>(),
        versions(&store)
    );
    assert_eq!(applied[0].name, known_versions(store.backend())[0].1);
    assert_eq!(
        store.migrate().await.unwrap(),
        Vec::<i64>::new(),
        "up to date"
    );
    let (_, plain) = store
        .create_token("survivor", Scope::Read, T0)
        .await
        .unwrap();
    store.close().await;

    let reopened = Store::open(url).await.unwrap();
    assert_eq!(
        reopened.applied_migrations().await.unwrap(),
        applied,
        "reopening applied nothing (same rows, same applied_at)"
    );
    assert_eq!(
        reopened
            .verify_token(&plain, T0)
            .await
            .unwrap()
            .map(|t| t.name),
        Some("survivor".into())
    );
    reopened.close().await;
}

pub async fn concurrent_opens_migrate_once(url: &str) {
    let (a, b) = tokio::join!(Store::open(url), Store::open(url));
    let (a, b) = (a.unwrap(), b.unwrap());
    let applied = a.applied_migrations().await.unwrap();
    assert_eq!(
        applied.iter().map(|m| m.version).collect::<Vec<_>>(),
        versions(&a)
    );
    assert_eq!(b.applied_migrations().await.unwrap(), applied);
    a.close().await;
    b.close().await;
}

/// A version past the newest this build knows is refused before anything runs: the migration
/// still pending below it stays unapplied.
pub async fn newer_schema_is_refused(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let known = *versions(&store).last().unwrap();
    store.migrate_to(known - 1).await.unwrap();
    with_pool!(store, pool => {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, 'from the future', TRUE, $2, 0)",
        )
        .bind(known + 1)
        .bind(vec![0u8; 48])
        .execute(pool)
        .await
        .map(|_| ())
    })
    .unwrap();
    let recorded = store.applied_migrations().await.unwrap();
    store.close().await;
    assert_open_refused_as_newer(url, known + 1, known).await;
    let store = Store::connect(url).await.unwrap();
    assert_eq!(store.applied_migrations().await.unwrap(), recorded);
    store.close().await;
}

async fn assert_open_refused_as_newer(url: &str, found: i64, known: i64) {
    match Store::open(url).await {
        Err(StoreError::NewerSchema { found: f, known: k }) => assert_eq!((f, k), (found, known)),
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

/// A migration that fails is named in the error, and the run leaves the schema as it was: the
/// earlier migration of the same run is not kept either.
pub async fn failed_migration_changes_nothing(url: &str) {
    let store = Store::connect(url).await.unwrap();
    assert_eq!(store.migrate_to(2).await.unwrap(), [1, 2]);
    // Version 4 creates `feed_keys`; one already there makes it fail after version 3 ran.
    with_pool!(store, pool => {
        sqlx::query("CREATE TABLE feed_keys (feed TEXT PRIMARY KEY)")
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let before = store.applied_migrations().await.unwrap();
    match store.migrate().await {
        Err(StoreError::Migration { version, name, .. }) => assert_eq!(
            (version, name.as_str()),
            (4, &*known_versions(store.backend())[3].1)
        ),
        other => panic!("expected migration 4 to fail, got {other:?}"),
    }
    assert_eq!(store.applied_migrations().await.unwrap(), before);
    assert!(
        !table_exists(&store, "server_secrets").await,
        "version 3 kept"
    );
    assert!(
        store
            .create_token("early", Scope::Respond, T0)
            .await
            .is_err(),
        "version 4's scope check kept"
    );
    store.close().await;
}

/// An applied migration whose recorded checksum is not its file's is refused, naming it.
pub async fn edited_migration_is_refused(url: &str) {
    let store = Store::open(url).await.unwrap();
    with_pool!(store, pool => {
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 2")
            .bind(vec![0u8; 48])
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let name = known_versions(store.backend())[1].1.to_string();
    store.close().await;
    match Store::open(url).await {
        Err(StoreError::MigrationChanged { version, name: n }) => {
            assert_eq!((version, n), (2, name))
        }
        other => panic!("expected MigrationChanged, got {other:?}"),
    }
}

/// The versions and names earlier releases recorded in `schema_migrations`.
const LEGACY_MIGRATIONS: [(i64, &str); 4] = [
    (1, "tokens, alerts, config loads, leases"),
    (2, "routing, notifications, on-call, incidents"),
    (3, "server secrets"),
    (4, "respond scope, calendar feed keys"),
];

/// `schema_migrations` as earlier releases created it.
const LEGACY_SCHEMA_MIGRATIONS: &str = "CREATE TABLE schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// When the legacy runner applied `version`: whole seconds, which SQLite's
/// `_sqlx_migrations.installed_on` keeps exactly.
fn legacy_applied_at(version: i64) -> Timestamp {
    secs(version * 60)
}

/// The database an earlier release left at version `upto`, as its runner built it: each
/// migration's SQL with its `schema_migrations` row, and no `_sqlx_migrations`.
async fn migrated_the_old_way(url: &str, upto: i64) -> Store {
    let store = Store::connect(url).await.unwrap();
    let migrator = store.backend().migrator();
    let steps: Vec<(i64, &str, &'static str)> = LEGACY_MIGRATIONS
        .into_iter()
        .filter(|&(v, _)| v <= upto)
        .map(|(v, name)| {
            let m = migrator.iter().find(|m| m.version == v).unwrap();
            (v, name, &*m.sql)
        })
        .collect();
    with_pool!(store, pool => async {
        let mut tx = pool.begin().await?;
        sqlx::query(LEGACY_SCHEMA_MIGRATIONS).execute(&mut *tx).await?;
        for &(version, name, sql) in &steps {
            // A plain string runs every statement in it, as the old runner ran them.
            tx.execute(sql).await?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(version)
                .bind(name)
                .bind(legacy_applied_at(version).millis())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }.await)
    .unwrap();
    assert!(!table_exists(&store, "_sqlx_migrations").await);
    store
}

/// A database the earlier runner migrated fully is taken over without running anything: its
/// versions are recorded with the times it applied them, its old table goes, its data stays.
pub async fn the_old_runners_database_is_adopted(url: &str) {
    let store = migrated_the_old_way(url, 4).await;
    let (info, plain) = store
        .create_token("kept", Scope::Respond, T0)
        .await
        .unwrap();
    store.close().await;

    let store = Store::open(url).await.unwrap();
    // The old runner's versions keep its times; later ones are applied at this open.
    let applied = store.applied_migrations().await.unwrap();
    let legacy = LEGACY_MIGRATIONS.len();
    assert_eq!(
        applied[..legacy],
        recorded_as(&store, legacy_applied_at)[..legacy]
    );
    assert_eq!(
        versions(&store)[legacy..],
        applied[legacy..]
            .iter()
            .map(|a| a.version)
            .collect::<Vec<_>>()
    );
    let adopted = applied;
    assert!(!table_exists(&store, "schema_migrations").await);
    let kept = TokenInfo {
        last_used_at: Some(T0),
        ..info
    };
    assert_eq!(store.verify_token(&plain, T0).await.unwrap(), Some(kept));
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
    assert_eq!(store.applied_migrations().await.unwrap(), adopted);

    // An earlier release opening it now fails on the existing tables but leaves an empty
    // `schema_migrations`; the next open drops it and records nothing new.
    with_pool!(store, pool => {
        sqlx::query(LEGACY_SCHEMA_MIGRATIONS).execute(pool).await.map(|_| ())
    })
    .unwrap();
    store.close().await;
    let store = Store::open(url).await.unwrap();
    assert!(!table_exists(&store, "schema_migrations").await);
    assert_eq!(store.applied_migrations().await.unwrap(), adopted);
    store.close().await;
}

/// A database the earlier runner left at version 3 is adopted at 3, then migrated to 4 like any
/// other: its tokens survive the respond scope migration.
pub async fn an_adopted_database_migrates_on(url: &str) {
    let store = migrated_the_old_way(url, 3).await;
    let before = tokens_of_version_3(&store).await;
    assert_eq!(store.migrate_to(4).await.unwrap(), [4]);
    assert_tokens_survived(&store, &before).await;
    let applied = store.applied_migrations().await.unwrap();
    assert_eq!(
        applied[..3],
        recorded_as(&store, legacy_applied_at)[..3],
        "adopted as the old runner applied them"
    );
    assert_eq!(applied[3].version, 4);
    assert!(
        applied[3].applied_at > legacy_applied_at(3),
        "version 4 applied now: {applied:?}"
    );
    store.close().await;
}

/// The earlier runner's record of a version this build does not know is refused before the
/// adoption, which leaves the old record as it was.
pub async fn the_old_runners_newer_schema_is_refused(url: &str) {
    let store = migrated_the_old_way(url, 4).await;
    let known = *versions(&store).last().unwrap();
    with_pool!(store, pool => {
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from the future', 0)")
            .bind(known + 1)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    store.close().await;
    assert_open_refused_as_newer(url, known + 1, known).await;
    let store = Store::connect(url).await.unwrap();
    assert!(!table_exists(&store, "_sqlx_migrations").await);
    let legacy: Vec<i64> = with_pool!(store, pool => {
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(legacy, [1, 2, 3, 4, known + 1]);
    store.close().await;
}

// ---- silences ----

/// Runs `sql` on the database directly, past the store's own checks, and expects the schema to
/// refuse it.
async fn assert_refused(store: &Store, sql: &str) {
    let res = with_pool!(store, pool => {
        sqlx::query(sql).execute(pool).await.map(|_| ())
    })
    .map_err(crate::error::db_err("a raw statement"));
    assert!(
        matches!(res, Err(StoreError::Invalid { .. })),
        "{sql}: {res:?}"
    );
}

fn silence(id: &str, starts: i64, ends: i64) -> SilenceRecord {
    SilenceRecord {
        id: id.into(),
        matchers_json: format!(r#"[{{"name":"service","value":"{id}","isEqual":true}}]"#),
        starts_at: secs(starts),
        ends_at: secs(ends),
        created_by: "alice".into(),
        comment: format!("maintenance of {id}"),
        updated_at: secs(0),
    }
}

fn silence_ids(silences: &[SilenceRecord]) -> Vec<&str> {
    silences.iter().map(|s| s.id.as_str()).collect()
}

pub async fn silences_put_get_list_replace(store: &Store) {
    assert_eq!(store.list_silences().await.unwrap(), vec![]);
    let db = silence("db", 100, 200);
    let (api, web) = (silence("api", 50, 60), silence("web", 100, 100));
    for s in [&db, &api, &web] {
        store.put_silence(s).await.unwrap();
    }
    assert_eq!(store.get_silence("db").await.unwrap(), Some(db.clone()));
    assert_eq!(store.get_silence("nope").await.unwrap(), None);
    // By starts_at, then id; a zero-length silence is allowed.
    let listed = store.list_silences().await.unwrap();
    assert_eq!(silence_ids(&listed), vec!["api", "db", "web"]);
    assert_eq!(listed[2], web);

    // Same id: replaced, not added.
    let edited = SilenceRecord {
        ends_at: secs(300),
        comment: "longer".into(),
        matchers_json: "[]".into(),
        created_by: "bob".into(),
        updated_at: secs(10),
        ..db.clone()
    };
    store.put_silence(&edited).await.unwrap();
    assert_eq!(store.get_silence("db").await.unwrap(), Some(edited));
    assert_eq!(store.list_silences().await.unwrap().len(), 3);

    match store.put_silence(&silence("bad", 200, 199)).await {
        Err(StoreError::Invalid { detail, .. }) => assert!(detail.contains("bad"), "{detail}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let not_json = SilenceRecord {
        matchers_json: "[{".into(),
        ..silence("bad", 1, 2)
    };
    assert!(matches!(
        store.put_silence(&not_json).await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(store.get_silence("bad").await.unwrap(), None);
    // The database refuses a silence ending before it starts even when asked directly.
    assert_refused(
        store,
        "INSERT INTO silences (id, matchers_json, starts_at, ends_at, created_by, comment, \
         updated_at) VALUES ('raw', '[]', 2, 1, 'x', 'x', 0)",
    )
    .await;
}

pub async fn silence_expire_ends_pending_and_active(store: &Store) {
    let now = secs(100);
    let active = silence("active", 50, 200);
    let pending = silence("pending", 150, 300);
    let ending_now = silence("ending-now", 50, 100);
    for s in [&active, &pending, &ending_now] {
        store.put_silence(s).await.unwrap();
    }

    assert_eq!(
        store.expire_silence("active", now).await.unwrap(),
        ExpireOutcome::Expired
    );
    assert_eq!(
        store.get_silence("active").await.unwrap(),
        Some(SilenceRecord {
            ends_at: now,
            updated_at: now,
            ..active.clone()
        })
    );

    // A pending silence never comes into force: it starts and ends now.
    assert_eq!(
        store.expire_silence("pending", now).await.unwrap(),
        ExpireOutcome::Expired
    );
    assert_eq!(
        store.get_silence("pending").await.unwrap(),
        Some(SilenceRecord {
            starts_at: now,
            ends_at: now,
            updated_at: now,
            ..pending.clone()
        })
    );

    // Ending at `now` is ended (the end is exclusive): nothing changes.
    assert_eq!(
        store.expire_silence("ending-now", now).await.unwrap(),
        ExpireOutcome::AlreadyExpired
    );
    assert_eq!(
        store.get_silence("ending-now").await.unwrap(),
        Some(ending_now)
    );
    assert_eq!(
        store.expire_silence("active", secs(150)).await.unwrap(),
        ExpireOutcome::AlreadyExpired
    );
    assert_eq!(
        store
            .get_silence("active")
            .await
            .unwrap()
            .map(|s| s.ends_at),
        Some(now),
        "expiring again keeps the first end"
    );
    assert_eq!(
        store.expire_silence("missing", now).await.unwrap(),
        ExpireOutcome::NotFound
    );
}

pub async fn silences_deleted_once_ended(store: &Store) {
    for s in [
        silence("a", 0, 100),
        silence("b", 0, 101),
        silence("c", 0, 99),
        silence("d", 50, 500),
    ] {
        store.put_silence(&s).await.unwrap();
    }
    // Strictly before: the one ending at 100 stays.
    assert_eq!(
        store.delete_silences_ended_before(secs(100)).await.unwrap(),
        1
    );
    assert_eq!(
        silence_ids(&store.list_silences().await.unwrap()),
        vec!["a", "b", "d"]
    );
    assert_eq!(
        store.delete_silences_ended_before(secs(100)).await.unwrap(),
        0
    );
    assert_eq!(
        store.delete_silences_ended_before(secs(200)).await.unwrap(),
        2
    );
    assert_eq!(
        silence_ids(&store.list_silences().await.unwrap()),
        vec!["d"]
    );
}

// ---- routed alerts ----

fn routed(fingerprint: &str, starts: i64, ends: i64) -> RoutedAlert {
    RoutedAlert {
        fingerprint: fingerprint.into(),
        labels_json: format!(r#"{{"alertname":"HighLatency","fp":"{fingerprint}"}}"#),
        annotations_json: r#"{"summary":"p99 above 2s"}"#.into(),
        starts_at: secs(starts),
        ends_at: secs(ends),
        updated_at: secs(starts),
        generator_url: "http://prometheus:9090/graph".into(),
        timeout: false,
        source: "api".into(),
    }
}

pub async fn routed_alerts_save_load_and_expire(store: &Store) {
    assert_eq!(store.load_alerts().await.unwrap(), vec![]);
    let (b, a) = (routed("b1", 0, 100), routed("a1", 10, 300));
    store.save_alerts(&[b.clone(), a.clone()]).await.unwrap();
    assert_eq!(
        store.load_alerts().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    // Upsert by fingerprint: every column replaced.
    let refreshed = RoutedAlert {
        labels_json: r#"{"alertname":"HighLatency"}"#.into(),
        annotations_json: "{}".into(),
        ends_at: secs(400),
        updated_at: secs(50),
        generator_url: String::new(),
        timeout: true,
        source: "webhook:grafana".into(),
        ..b.clone()
    };
    let c = routed("c1", 20, 150);
    store
        .save_alerts(&[refreshed.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.load_alerts().await.unwrap(),
        vec![a.clone(), refreshed.clone(), c.clone()]
    );
    store.save_alerts(&[]).await.unwrap();

    // Strictly before: the one ending at 300 stays.
    assert_eq!(
        store.delete_alerts_ended_before(secs(300)).await.unwrap(),
        1
    );
    assert_eq!(
        store.load_alerts().await.unwrap(),
        vec![a.clone(), refreshed]
    );
    assert_eq!(
        store.delete_alerts_ended_before(secs(300)).await.unwrap(),
        0
    );
    assert_eq!(
        store.delete_alerts_ended_before(secs(401)).await.unwrap(),
        2
    );
    assert_eq!(store.load_alerts().await.unwrap(), vec![]);
}

pub async fn routed_alerts_batch_is_atomic(store: &Store) {
    let first = routed("a1", 0, 100);
    store
        .save_alerts(std::slice::from_ref(&first))
        .await
        .unwrap();

    // The last row breaks the database's check after the others were written: all rolls back.
    let changed = RoutedAlert {
        ends_at: secs(999),
        ..first.clone()
    };
    for bad in [routed("z9", 100, 50), routed("", 0, 10)] {
        match store
            .save_alerts(&[changed.clone(), routed("b1", 0, 100), bad])
            .await
        {
            Err(StoreError::Invalid { .. }) => {}
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert_eq!(store.load_alerts().await.unwrap(), vec![first.clone()]);
    }

    let not_json = RoutedAlert {
        annotations_json: "{summary".into(),
        ..routed("c1", 0, 10)
    };
    assert!(matches!(
        store.save_alerts(&[routed("b1", 0, 100), not_json]).await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(store.load_alerts().await.unwrap(), vec![first]);
}

// ---- outbox ----

fn notification(key: &str, not_before: Option<i64>) -> NewOutboxItem {
    NewOutboxItem {
        idempotency_key: key.into(),
        receiver: "team-api".into(),
        integration: "webhook".into(),
        payload_json: format!(r#"{{"groupKey":"{key}","status":"firing"}}"#),
        not_before: not_before.map(secs),
    }
}

async fn outbox_item(store: &Store, id: i64) -> OutboxItem {
    store.get_outbox(id).await.unwrap().expect("outbox item")
}

pub async fn outbox_enqueue_is_idempotent(store: &Store) {
    let now = secs(10);
    let first = store
        .enqueue(
            &[notification("k1", None), notification("k2", Some(60))],
            now,
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|e| e.inserted), "{first:?}");
    assert_ne!(first[0].id, first[1].id);

    let k1 = outbox_item(store, first[0].id).await;
    assert_eq!(
        k1,
        OutboxItem {
            id: first[0].id,
            idempotency_key: "k1".into(),
            receiver: "team-api".into(),
            integration: "webhook".into(),
            payload_json: r#"{"groupKey":"k1","status":"firing"}"#.into(),
            state: OutboxState::Pending,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            claimed_until: None,
            last_error: None,
            finished_at: None,
        }
    );
    assert_eq!(
        outbox_item(store, first[1].id).await.next_attempt_at,
        secs(60),
        "not before 60s"
    );

    // Again, with a changed payload, next to a new key and a key repeated within the batch.
    let mut changed = notification("k1", None);
    changed.payload_json = r#"{"other":true}"#.into();
    let again = store
        .enqueue(
            &[
                changed,
                notification("k3", Some(5)),
                notification("k3", None),
            ],
            secs(20),
        )
        .await
        .unwrap();
    assert_eq!(
        again[0],
        Enqueued {
            id: first[0].id,
            inserted: false
        }
    );
    assert!(again[1].inserted);
    assert_eq!(
        again[2],
        Enqueued {
            id: again[1].id,
            inserted: false
        }
    );
    assert_eq!(
        outbox_item(store, first[0].id).await,
        k1,
        "the first enqueue is kept whole"
    );
    assert_eq!(
        outbox_item(store, again[1].id).await.next_attempt_at,
        secs(20),
        "a past not_before is now"
    );

    // Even once delivered, the key is never queued again.
    assert!(store.mark_delivered(first[0].id, secs(30)).await.unwrap());
    let after = store
        .enqueue(&[notification("k1", None)], secs(40))
        .await
        .unwrap();
    assert_eq!(
        after,
        vec![Enqueued {
            id: first[0].id,
            inserted: false
        }]
    );
    assert_eq!(
        store.count_outbox_by_state().await.unwrap(),
        OutboxCounts {
            pending: 2,
            delivered: 1,
            failed: 0
        }
    );
    assert_eq!(store.enqueue(&[], secs(40)).await.unwrap(), vec![]);
}

pub async fn outbox_enqueue_batch_is_atomic(store: &Store) {
    let kept = store
        .enqueue(&[notification("k1", None)], T0)
        .await
        .unwrap();
    // The empty key fails the database's check after two rows were written.
    let bad_key = store
        .enqueue(
            &[
                notification("k2", None),
                notification("k3", None),
                notification("", None),
            ],
            T0,
        )
        .await;
    assert!(
        matches!(bad_key, Err(StoreError::Invalid { .. })),
        "{bad_key:?}"
    );
    let mut not_json = notification("k4", None);
    not_json.payload_json = "{".into();
    assert!(matches!(
        store
            .enqueue(&[notification("k2", None), not_json], T0)
            .await,
        Err(StoreError::Invalid { .. })
    ));
    let all = store.list_outbox(None, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![kept[0].id]
    );
    // The keys of the refused batches were not taken.
    let retried = store
        .enqueue(&[notification("k2", None)], T0)
        .await
        .unwrap();
    assert!(retried[0].inserted);
}

pub async fn outbox_claims_due_items_in_order(store: &Store) {
    let now = secs(100);
    let ids: Vec<i64> = store
        .enqueue(
            &[
                notification("late", Some(150)),
                notification("b", Some(90)),
                notification("a", Some(90)),
                notification("c", None),
                notification("due-now", Some(100)),
            ],
            secs(50),
        )
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let [late, b, a, c, due_now] = ids[..] else {
        panic!("{ids:?}")
    };
    let claim_until = now + Span::SECOND * 30;

    // A batch's ids follow key order, whatever the order given.
    assert!(a < b && b < c && c < due_now && due_now < late, "{ids:?}");
    // Due by next_attempt_at then id: c (50s), a and b (90s, in id order), due-now (100s).
    let claimed = store.claim_due(now, 2, claim_until).await.unwrap();
    assert_eq!(claimed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![c, a]);
    assert!(
        claimed
            .iter()
            .all(|i| i.attempts == 1 && i.claimed_until == Some(claim_until))
    );
    assert_eq!(outbox_item(store, c).await, claimed[0]);
    let rest = store.claim_due(now, 10, claim_until).await.unwrap();
    assert_eq!(
        rest.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![b, due_now]
    );
    assert_eq!(store.claim_due(now, 10, claim_until).await.unwrap(), vec![]);

    // Claims hold until claim_until, exclusive; the late item becomes due at 150s.
    assert_eq!(
        store
            .claim_due(claim_until - Span(1), 10, secs(200))
            .await
            .unwrap(),
        vec![]
    );
    let reclaimed = store.claim_due(claim_until, 10, secs(200)).await.unwrap();
    assert_eq!(
        reclaimed
            .iter()
            .map(|i| (i.id, i.attempts))
            .collect::<Vec<_>>(),
        vec![(c, 2), (a, 2), (b, 2), (due_now, 2)]
    );
    assert_eq!(
        store
            .claim_due(secs(150), 10, secs(210))
            .await
            .unwrap()
            .iter()
            .map(|i| (i.id, i.attempts))
            .collect::<Vec<_>>(),
        vec![(late, 1)]
    );

    assert_eq!(
        store.claim_due(secs(300), 0, secs(310)).await.unwrap(),
        vec![]
    );
    for until in [secs(300), secs(299)] {
        assert!(matches!(
            store.claim_due(secs(300), 10, until).await,
            Err(StoreError::Invalid { .. })
        ));
    }
    assert_eq!(
        store.count_outbox_by_state().await.unwrap().pending,
        5,
        "claiming moves no item out of pending"
    );
}

pub async fn outbox_transitions_only_from_pending(store: &Store) {
    let ids: Vec<i64> = store
        .enqueue(
            &[
                notification("ok", None),
                notification("flaky", None),
                notification("dead", None),
            ],
            secs(0),
        )
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let [ok, flaky, dead] = ids[..] else {
        panic!("{ids:?}")
    };
    let claimed = store.claim_due(secs(1), 10, secs(31)).await.unwrap();
    assert_eq!(claimed.len(), 3);

    // Delivered: final.
    assert!(store.mark_delivered(ok, secs(2)).await.unwrap());
    let delivered = outbox_item(store, ok).await;
    assert_eq!(
        (
            delivered.state,
            delivered.finished_at,
            delivered.claimed_until,
            delivered.attempts
        ),
        (OutboxState::Delivered, Some(secs(2)), None, 1)
    );
    assert!(!store.mark_delivered(ok, secs(3)).await.unwrap());
    assert!(!store.mark_retry(ok, secs(10), "again?").await.unwrap());
    assert!(
        !store
            .mark_failed(ok, "late failure", secs(3))
            .await
            .unwrap()
    );
    assert_eq!(
        outbox_item(store, ok).await,
        delivered,
        "a final state stays"
    );

    // Retry: the claim is released and the item due again at the new time.
    assert!(
        store
            .mark_retry(flaky, secs(20), "503 Service Unavailable")
            .await
            .unwrap()
    );
    let retrying = outbox_item(store, flaky).await;
    assert_eq!(
        (
            retrying.state,
            retrying.next_attempt_at,
            retrying.claimed_until,
            retrying.last_error.as_deref(),
            retrying.finished_at
        ),
        (
            OutboxState::Pending,
            secs(20),
            None,
            Some("503 Service Unavailable"),
            None
        )
    );
    assert_eq!(
        store.claim_due(secs(19), 10, secs(49)).await.unwrap(),
        vec![]
    );
    let second = store.claim_due(secs(20), 10, secs(50)).await.unwrap();
    assert_eq!(
        second
            .iter()
            .map(|i| (i.id, i.attempts))
            .collect::<Vec<_>>(),
        vec![(flaky, 2)]
    );
    assert!(store.mark_delivered(flaky, secs(21)).await.unwrap());

    // Failed: final, and never claimed again.
    assert!(store.mark_failed(dead, "410 Gone", secs(5)).await.unwrap());
    let failed = outbox_item(store, dead).await;
    assert_eq!(
        (
            failed.state,
            failed.last_error.as_deref(),
            failed.finished_at,
            failed.claimed_until
        ),
        (OutboxState::Failed, Some("410 Gone"), Some(secs(5)), None)
    );
    assert!(!store.mark_delivered(dead, secs(6)).await.unwrap());
    assert!(!store.mark_retry(dead, secs(6), "revive").await.unwrap());
    assert!(!store.mark_failed(dead, "twice", secs(6)).await.unwrap());
    assert_eq!(outbox_item(store, dead).await, failed);
    assert_eq!(
        store.claim_due(secs(1000), 10, secs(1030)).await.unwrap(),
        vec![]
    );

    assert!(!store.mark_delivered(9_999_999, secs(6)).await.unwrap());
    assert!(!store.mark_retry(9_999_999, secs(6), "x").await.unwrap());
    assert!(!store.mark_failed(9_999_999, "x", secs(6)).await.unwrap());
    assert_eq!(store.get_outbox(9_999_999).await.unwrap(), None);

    // The database itself refuses unknown states and a pending item with a finish time.
    for sql in [
        "UPDATE outbox SET state = 'lost' WHERE id = {ok}",
        "UPDATE outbox SET state = 'pending' WHERE id = {ok}",
        "UPDATE outbox SET state = 'failed', finished_at = NULL WHERE id = {ok}",
    ] {
        assert_refused(store, &sql.replace("{ok}", &ok.to_string())).await;
    }
}

pub async fn outbox_lists_newest_first_and_counts(store: &Store) {
    assert_eq!(
        store.count_outbox_by_state().await.unwrap(),
        OutboxCounts::default()
    );
    let mut ids = Vec::new();
    for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
        let e = store
            .enqueue(&[notification(key, None)], secs(i as i64))
            .await
            .unwrap();
        ids.push(e[0].id);
    }
    // Same instant as d, enqueued later: newer.
    let e = store
        .enqueue(&[notification("e", None)], secs(3))
        .await
        .unwrap();
    ids.push(e[0].id);
    assert!(store.mark_delivered(ids[0], secs(10)).await.unwrap());
    assert!(store.mark_delivered(ids[2], secs(10)).await.unwrap());
    assert!(store.mark_failed(ids[1], "nope", secs(10)).await.unwrap());

    let listed = |items: Vec<OutboxItem>| -> Vec<i64> { items.iter().map(|i| i.id).collect() };
    assert_eq!(
        listed(store.list_outbox(None, 100).await.unwrap()),
        vec![ids[4], ids[3], ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        listed(store.list_outbox(None, 2).await.unwrap()),
        vec![ids[4], ids[3]]
    );
    assert_eq!(
        listed(
            store
                .list_outbox(Some(OutboxState::Delivered), 100)
                .await
                .unwrap()
        ),
        vec![ids[2], ids[0]]
    );
    assert_eq!(
        listed(
            store
                .list_outbox(Some(OutboxState::Pending), 100)
                .await
                .unwrap()
        ),
        vec![ids[4], ids[3]]
    );
    assert_eq!(
        listed(
            store
                .list_outbox(Some(OutboxState::Failed), 100)
                .await
                .unwrap()
        ),
        vec![ids[1]]
    );
    assert_eq!(
        store.count_outbox_by_state().await.unwrap(),
        OutboxCounts {
            pending: 2,
            delivered: 2,
            failed: 1
        }
    );
    for s in [
        OutboxState::Pending,
        OutboxState::Delivered,
        OutboxState::Failed,
    ] {
        assert_eq!(s.as_str().parse::<OutboxState>(), Ok(s));
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
    }
    assert!("sent".parse::<OutboxState>().is_err());
}

pub async fn outbox_concurrent_claims_never_overlap(store: &Store) {
    const ITEMS: usize = 60;
    const CLAIMERS: usize = 6;
    let items: Vec<NewOutboxItem> = (0..ITEMS)
        .map(|i| notification(&format!("n{i}"), None))
        .collect();
    let all: HashSet<i64> = store
        .enqueue(&items, T0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(all.len(), ITEMS);

    let window = Span::SECOND * 30;
    // Two claim windows: in each, every item is claimed exactly once among all claimers.
    for round in 0..2i64 {
        let now = T0 + window * round;
        let start = Arc::new(Barrier::new(CLAIMERS));
        let tasks: Vec<_> = (0..CLAIMERS)
            .map(|_| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let mut mine = Vec::new();
                    loop {
                        let got = store.claim_due(now, 3, now + window).await.unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|i| (i.id, i.attempts)));
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for t in tasks {
            claimed.extend(t.await.unwrap());
        }
        let ids: HashSet<i64> = claimed.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            claimed.len(),
            ITEMS,
            "round {round}: an item was claimed twice"
        );
        assert_eq!(ids, all, "round {round}: every item claimed");
        assert!(
            claimed.iter().all(|&(_, attempts)| attempts == round + 1),
            "round {round}: {claimed:?}"
        );
    }
}

pub async fn outbox_concurrent_enqueues_insert_once(store: &Store) {
    const SENDERS: usize = 6;
    const SHARED: usize = 10;
    let start = Arc::new(Barrier::new(SENDERS));
    // Every sender enqueues the same keys, half of them in reverse order (the order that would
    // deadlock if rows were locked in the order given), plus one key of its own.
    let tasks: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                let mut batch: Vec<NewOutboxItem> = (0..SHARED)
                    .map(|k| notification(&format!("shared-{k}"), None))
                    .collect();
                if s % 2 == 1 {
                    batch.reverse();
                }
                batch.push(notification(&format!("own-{s}"), None));
                start.wait().await;
                let got = store.enqueue(&batch, T0).await.unwrap();
                batch
                    .into_iter()
                    .zip(got)
                    .map(|(item, e)| (item.idempotency_key, e))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut by_key: HashMap<String, Vec<Enqueued>> = HashMap::new();
    for t in tasks {
        for (key, e) in t.await.unwrap() {
            by_key.entry(key).or_default().push(e);
        }
    }
    assert_eq!(by_key.len(), SHARED + SENDERS);
    for (key, seen) in &by_key {
        let ids: HashSet<i64> = seen.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 1, "{key}: {seen:?}");
        assert_eq!(
            seen.iter().filter(|e| e.inserted).count(),
            1,
            "{key}: {seen:?}"
        );
    }
    assert_eq!(
        store.count_outbox_by_state().await.unwrap().pending,
        (SHARED + SENDERS) as u64
    );
}

// ---- notification log ----

fn nflog(receiver: &str, group: &str, sent: i64, expires: i64) -> NotificationLogEntry {
    NotificationLogEntry {
        receiver: receiver.into(),
        group_key: group.into(),
        payload_json: serde_json::json!({ "firing": [group], "sent": sent }).to_string(),
        sent_at: secs(sent),
        expires_at: secs(expires),
    }
}

pub async fn notification_log_newest_wins_and_expires(store: &Store) {
    let entries = [
        nflog("team-web", "{}:{alertname=\"Down\"}", 0, 100),
        nflog("team-api", "g2", 10, 200),
        nflog("team-api", "g1", 20, 50),
    ];
    store.put_notification_log(&entries).await.unwrap();
    assert_eq!(
        store.load_notification_log(secs(0)).await.unwrap(),
        vec![entries[2].clone(), entries[1].clone(), entries[0].clone()]
    );
    // Expired at expires_at.
    assert_eq!(
        store.load_notification_log(secs(50)).await.unwrap(),
        vec![entries[1].clone(), entries[0].clone()]
    );

    // A newer send replaces; an older one (a late writer) does not.
    let newer = nflog("team-api", "g2", 30, 300);
    store
        .put_notification_log(&[
            newer.clone(),
            nflog("team-web", "{}:{alertname=\"Down\"}", -5, 400),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.load_notification_log(secs(60)).await.unwrap(),
        vec![newer.clone(), entries[0].clone()]
    );
    store.put_notification_log(&[]).await.unwrap();

    assert_eq!(
        store
            .delete_notification_log_expired(secs(100))
            .await
            .unwrap(),
        2,
        "g1 (50) and the web entry (100)"
    );
    assert_eq!(
        store.load_notification_log(secs(0)).await.unwrap(),
        vec![newer]
    );
    assert_eq!(
        store
            .delete_notification_log_expired(secs(100))
            .await
            .unwrap(),
        0
    );
}

pub async fn notification_log_batch_is_atomic(store: &Store) {
    let kept = nflog("team-api", "g1", 0, 100);
    store
        .put_notification_log(std::slice::from_ref(&kept))
        .await
        .unwrap();
    // The last entry expires as it is sent: the database's check refuses it, and all rolls back.
    let batch = [
        nflog("team-api", "g1", 10, 200),
        nflog("team-api", "g2", 10, 200),
        nflog("team-api", "g3", 10, 10),
    ];
    assert!(matches!(
        store.put_notification_log(&batch).await,
        Err(StoreError::Invalid { .. })
    ));
    let mut not_json = nflog("team-api", "g4", 10, 200);
    not_json.payload_json = "firing".into();
    assert!(matches!(
        store
            .put_notification_log(&[batch[1].clone(), not_json])
            .await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        store.load_notification_log(secs(0)).await.unwrap(),
        vec![kept]
    );
}

// ---- escalations ----

fn escalation(id: &str, next: Option<i64>, open: bool) -> EscalationRecord {
    EscalationRecord {
        id: id.into(),
        subject: format!("incident:{id}"),
        policy: "default".into(),
        state_json: r#"{"step":0,"repeats":0}"#.into(),
        next_at: next.map(secs),
        open,
        updated_at: secs(0),
    }
}

fn escalation_ids(es: &[EscalationRecord]) -> Vec<&str> {
    es.iter().map(|e| e.id.as_str()).collect()
}

pub async fn escalations_open_due_and_replaced(store: &Store) {
    let now = secs(100);
    for e in [
        escalation("e-late", Some(200), true),
        escalation("e-due", Some(100), true),
        escalation("e-early", Some(10), true),
        escalation("e-idle", None, true),
        escalation("e-closed", Some(10), false),
    ] {
        store.put_escalation(&e).await.unwrap();
    }
    assert_eq!(
        escalation_ids(&store.open_escalations().await.unwrap()),
        vec!["e-due", "e-early", "e-idle", "e-late"]
    );
    // Due at next_at, by next_at; unscheduled and closed ones never.
    assert_eq!(
        escalation_ids(&store.due_escalations(now).await.unwrap()),
        vec!["e-early", "e-due"]
    );
    assert_eq!(
        escalation_ids(&store.due_escalations(secs(99)).await.unwrap()),
        vec!["e-early"]
    );

    // Stepping and closing are replacements.
    let stepped = EscalationRecord {
        state_json: r#"{"step":1,"repeats":0}"#.into(),
        next_at: Some(secs(400)),
        updated_at: now,
        ..escalation("e-early", None, true)
    };
    store.put_escalation(&stepped).await.unwrap();
    let acked = EscalationRecord {
        open: false,
        next_at: None,
        updated_at: now,
        ..escalation("e-due", None, true)
    };
    store.put_escalation(&acked).await.unwrap();
    assert_eq!(store.due_escalations(now).await.unwrap(), vec![]);
    assert_eq!(
        escalation_ids(&store.due_escalations(secs(400)).await.unwrap()),
        vec!["e-late", "e-early"]
    );
    assert_eq!(
        escalation_ids(&store.open_escalations().await.unwrap()),
        vec!["e-early", "e-idle", "e-late"]
    );
    assert_eq!(
        store.get_escalation("e-early").await.unwrap(),
        Some(stepped)
    );
    assert_eq!(store.get_escalation("e-due").await.unwrap(), Some(acked));
    assert_eq!(store.get_escalation("nope").await.unwrap(), None);

    let mut not_json = escalation("e-bad", None, true);
    not_json.state_json = "step 1".into();
    for bad in [not_json, escalation("", None, true)] {
        assert!(matches!(
            store.put_escalation(&bad).await,
            Err(StoreError::Invalid { .. })
        ));
    }
    assert_eq!(store.open_escalations().await.unwrap().len(), 3);
}

// ---- incidents ----

fn new_incident(title: &str, opened: i64, resolved: Option<i64>) -> NewIncident {
    NewIncident {
        title: title.into(),
        severity: "sev2".into(),
        status: if resolved.is_some() {
            "resolved"
        } else {
            "investigating"
        }
        .into(),
        opened_at: secs(opened),
        resolved_at: resolved.map(secs),
        services_json: r#"["checkout"]"#.into(),
        doc_json: format!(r#"{{"title":"{title}","timeline":[]}}"#),
    }
}

fn update_of(i: &NewIncident) -> IncidentUpdate {
    IncidentUpdate {
        title: i.title.clone(),
        severity: i.severity.clone(),
        status: i.status.clone(),
        opened_at: i.opened_at,
        resolved_at: i.resolved_at,
        services_json: i.services_json.clone(),
        doc_json: i.doc_json.clone(),
    }
}

const ALL_INCIDENTS: IncidentFilter = IncidentFilter {
    open_only: false,
    opened_from: None,
    opened_to: None,
    limit: 100,
};

pub async fn incidents_created_once_by_reference(store: &Store) {
    let issue = "github:octo-org/shop#7";
    assert_eq!(store.incident_by_ref(issue).await.unwrap(), None);
    let first = new_incident("from issue 7", 100, None);
    let (id, created) = store.create_incident_once(issue, &first).await.unwrap();
    assert!(created);
    assert_eq!(store.incident_by_ref(issue).await.unwrap(), Some(id));
    // A redelivery finds it and stores nothing.
    let again = new_incident("from issue 7, again", 200, None);
    assert_eq!(
        store.create_incident_once(issue, &again).await.unwrap(),
        (id, false)
    );
    let stored = store.get_incident(id).await.unwrap().unwrap();
    assert_eq!(stored.title, "from issue 7");
    assert_eq!(stored.version, 1);
    // Concurrent first deliveries of another issue store one incident.
    let other = "github:octo-org/shop#8";
    let spec = new_incident("from issue 8", 300, None);
    let (a, b) = tokio::join!(
        store.create_incident_once(other, &spec),
        store.create_incident_once(other, &spec)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.0, b.0);
    assert_eq!([a.1, b.1].iter().filter(|c| **c).count(), 1);
    // Incidents without a reference are not bound by it.
    store.create_incident(&spec).await.unwrap();
    store.create_incident(&spec).await.unwrap();
    assert_eq!(store.list_incidents(&ALL_INCIDENTS).await.unwrap().len(), 4);
    assert!(matches!(
        store.create_incident_once(" ", &spec).await,
        Err(StoreError::Invalid { .. })
    ));
}

pub async fn incidents_numbered_and_listed(store: &Store) {
    let specs = [
        new_incident("checkout errors", 100, Some(150)),
        new_incident("login slow", 200, None),
        new_incident("search down", 300, None),
        new_incident("same instant as search", 300, Some(400)),
    ];
    let mut ids = Vec::new();
    for s in &specs {
        ids.push(store.create_incident(s).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(
        store.get_incident(ids[0]).await.unwrap(),
        Some(Incident {
            id: ids[0],
            title: "checkout errors".into(),
            severity: "sev2".into(),
            status: "resolved".into(),
            opened_at: secs(100),
            resolved_at: Some(secs(150)),
            services_json: r#"["checkout"]"#.into(),
            doc_json: r#"{"title":"checkout errors","timeline":[]}"#.into(),
            version: 1,
        })
    );
    assert_eq!(store.get_incident(ids[3] + 1000).await.unwrap(), None);

    let listed = |v: Vec<Incident>| -> Vec<i64> { v.iter().map(|i| i.id).collect() };
    assert_eq!(
        listed(store.list_incidents(&ALL_INCIDENTS).await.unwrap()),
        vec![ids[3], ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        listed(
            store
                .list_incidents(&IncidentFilter {
                    open_only: true,
                    ..ALL_INCIDENTS
                })
                .await
                .unwrap()
        ),
        vec![ids[2], ids[1]]
    );
    // [from, to): 200 is in, 300 is out.
    assert_eq!(
        listed(
            store
                .list_incidents(&IncidentFilter {
                    opened_from: Some(secs(200)),
                    opened_to: Some(secs(300)),
                    ..ALL_INCIDENTS
                })
                .await
                .unwrap()
        ),
        vec![ids[1]]
    );
    assert_eq!(
        listed(
            store
                .list_incidents(&IncidentFilter {
                    opened_from: Some(secs(101)),
                    ..ALL_INCIDENTS
                })
                .await
                .unwrap()
        ),
        vec![ids[3], ids[2], ids[1]]
    );
    assert_eq!(
        listed(
            store
                .list_incidents(&IncidentFilter {
                    opened_to: Some(secs(200)),
                    ..ALL_INCIDENTS
                })
                .await
                .unwrap()
        ),
        vec![ids[0]]
    );
    assert_eq!(
        listed(
            store
                .list_incidents(&IncidentFilter {
                    limit: 2,
                    ..ALL_INCIDENTS
                })
                .await
                .unwrap()
        ),
        vec![ids[3], ids[2]]
    );

    let mut not_json = new_incident("bad", 0, None);
    not_json.doc_json = "{title".into();
    assert!(matches!(
        store.create_incident(&not_json).await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(store.list_incidents(&ALL_INCIDENTS).await.unwrap().len(), 4);
    // A deleted row's number is not handed out again.
    with_pool!(store, pool => {
        sqlx::query("DELETE FROM incidents WHERE id = $1")
            .bind(ids[3])
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let next = store
        .create_incident(&new_incident("after delete", 500, None))
        .await
        .unwrap();
    assert!(next > ids[3], "{next} reuses a number up to {}", ids[3]);
}

pub async fn incident_updates_are_optimistic(store: &Store) {
    let created = new_incident("api errors", 100, None);
    let id = store.create_incident(&created).await.unwrap();

    let mut mitigated = update_of(&created);
    mitigated.status = "mitigated".into();
    mitigated.severity = "sev1".into();
    mitigated.services_json = r#"["api","checkout"]"#.into();
    mitigated.doc_json = r#"{"title":"api errors","timeline":["rolled back"]}"#.into();
    assert_eq!(
        store.update_incident(id, 1, &mitigated).await.unwrap(),
        UpdateOutcome::Updated { version: 2 }
    );
    let after = store.get_incident(id).await.unwrap().unwrap();
    assert_eq!(
        (
            after.status.as_str(),
            after.severity.as_str(),
            after.services_json.as_str(),
            after.doc_json.as_str(),
            after.version
        ),
        (
            "mitigated",
            "sev1",
            r#"["api","checkout"]"#,
            r#"{"title":"api errors","timeline":["rolled back"]}"#,
            2
        )
    );

    // A writer that read version 1 lost: nothing changes.
    let mut stale = update_of(&created);
    stale.title = "stale".into();
    assert_eq!(
        store.update_incident(id, 1, &stale).await.unwrap(),
        UpdateOutcome::Conflict
    );
    assert_eq!(store.get_incident(id).await.unwrap(), Some(after.clone()));

    let mut resolved = mitigated.clone();
    resolved.status = "resolved".into();
    resolved.resolved_at = Some(secs(500));
    assert_eq!(
        store.update_incident(id, 2, &resolved).await.unwrap(),
        UpdateOutcome::Updated { version: 3 }
    );
    assert_eq!(
        store.get_incident(id).await.unwrap().unwrap().resolved_at,
        Some(secs(500))
    );
    assert_eq!(
        store
            .update_incident(id + 1000, 1, &resolved)
            .await
            .unwrap(),
        UpdateOutcome::NotFound
    );
    let mut not_json = resolved.clone();
    not_json.services_json = "api".into();
    assert!(matches!(
        store.update_incident(id, 3, &not_json).await,
        Err(StoreError::Invalid { .. })
    ));

    // Writers racing from the same version: exactly one wins.
    const WRITERS: usize = 4;
    let start = Arc::new(Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, start) = (store.clone(), start.clone());
            let mut u = resolved.clone();
            u.title = format!("writer {w}");
            tokio::spawn(async move {
                start.wait().await;
                (w, store.update_incident(id, 3, &u).await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (w, outcome) = t.await.unwrap();
        match outcome {
            UpdateOutcome::Updated { version } => {
                assert_eq!(version, 4);
                winners.push(w);
            }
            UpdateOutcome::Conflict => {}
            UpdateOutcome::NotFound => panic!("writer {w}: not found"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let last = store.get_incident(id).await.unwrap().unwrap();
    assert_eq!(
        (last.title, last.version),
        (format!("writer {}", winners[0]), 4)
    );
}

// ---- schedule overrides ----

fn schedule_override(id: &str, schedule: &str, starts: i64, ends: i64) -> ScheduleOverride {
    ScheduleOverride {
        id: id.into(),
        schedule: schedule.into(),
        user_id: format!("user-{id}"),
        starts_at: secs(starts),
        ends_at: secs(ends),
        created_by: "alice".into(),
        created_at: secs(0),
    }
}

pub async fn overrides_overlap_range_at_boundaries(store: &Store) {
    let early = schedule_override("o-early", "primary", 10, 20);
    let late = schedule_override("o-late", "primary", 20, 30);
    let long = schedule_override("o-long", "primary", 5, 40);
    let other = schedule_override("o-other", "secondary", 0, 100);
    for o in [&early, &late, &long, &other] {
        store.add_override(o).await.unwrap();
    }
    let ids = |v: Vec<ScheduleOverride>| -> Vec<String> { v.into_iter().map(|o| o.id).collect() };
    let query = |from: i64, to: i64| store.list_overrides("primary", secs(from), secs(to));

    // Ending at `from` or starting at `to` is not an overlap.
    assert_eq!(ids(query(20, 30).await.unwrap()), vec!["o-long", "o-late"]);
    assert_eq!(ids(query(0, 10).await.unwrap()), vec!["o-long"]);
    assert_eq!(ids(query(0, 5).await.unwrap()), Vec::<String>::new());
    assert_eq!(ids(query(40, 50).await.unwrap()), Vec::<String>::new());
    assert_eq!(
        ids(query(19, 21).await.unwrap()),
        vec!["o-long", "o-early", "o-late"]
    );
    // One millisecond at each end.
    assert_eq!(
        ids(store
            .list_overrides("primary", secs(20) - Span(1), secs(20))
            .await
            .unwrap()),
        vec!["o-long", "o-early"]
    );
    assert_eq!(
        ids(store
            .list_overrides("primary", secs(39), secs(40) + Span(1))
            .await
            .unwrap()),
        vec!["o-long"]
    );
    // An empty range overlaps nothing, even inside an override.
    assert_eq!(ids(query(25, 25).await.unwrap()), Vec::<String>::new());
    assert_eq!(ids(query(30, 25).await.unwrap()), Vec::<String>::new());
    assert_eq!(
        store
            .list_overrides("secondary", secs(0), secs(1))
            .await
            .unwrap(),
        vec![other]
    );
    assert_eq!(
        query(0, 100).await.unwrap(),
        vec![long, early.clone(), late]
    );

    assert!(store.delete_override("o-late").await.unwrap());
    assert!(!store.delete_override("o-late").await.unwrap());
    assert_eq!(ids(query(20, 30).await.unwrap()), vec!["o-long"]);
    assert!(matches!(
        store.add_override(&early).await,
        Err(StoreError::Conflict { .. })
    ));
}

pub async fn overrides_reject_empty_ranges(store: &Store) {
    for (starts, ends) in [(10, 10), (10, 9)] {
        match store
            .add_override(&schedule_override("bad", "primary", starts, ends))
            .await
        {
            Err(StoreError::Invalid { detail, .. }) => assert!(detail.contains("bad"), "{detail}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
    // The database keeps the rule too.
    assert_refused(
        store,
        "INSERT INTO schedule_overrides \
         (id, schedule, user_id, starts_at, ends_at, created_by, created_at) \
         VALUES ('raw', 'primary', 'u', 10, 10, 'x', 0)",
    )
    .await;
    assert_eq!(
        store
            .list_overrides("primary", Timestamp(0), Timestamp(i64::MAX))
            .await
            .unwrap(),
        vec![]
    );
}

// ---- action links ----

pub async fn action_links_work_once(store: &Store) {
    assert!(!store.action_link_used("ack-1").await.unwrap());
    assert!(store.use_action_link("ack-1", secs(10)).await.unwrap());
    assert!(store.action_link_used("ack-1").await.unwrap());
    assert!(!store.use_action_link("ack-1", secs(11)).await.unwrap());
    assert!(store.use_action_link("ack-2", secs(20)).await.unwrap());
    assert!(matches!(
        store.use_action_link("", secs(20)).await,
        Err(StoreError::Invalid { .. })
    ));

    // Strictly before: ack-2 (used at 20) is kept and stays used.
    assert_eq!(store.delete_action_links_before(secs(20)).await.unwrap(), 1);
    assert!(!store.use_action_link("ack-2", secs(21)).await.unwrap());
    assert!(!store.action_link_used("ack-1").await.unwrap());
    assert_eq!(store.delete_action_links_before(secs(20)).await.unwrap(), 0);
    // A forgotten use is a fresh one: why deletion must wait for links to expire.
    assert!(store.use_action_link("ack-1", secs(30)).await.unwrap());

    const CLICKS: usize = 8;
    let start = Arc::new(Barrier::new(CLICKS));
    let tasks: Vec<_> = (0..CLICKS)
        .map(|_| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.use_action_link("resolve-7", secs(40)).await.unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

/// A link's first use and the escalation change it performs commit together: a second use
/// changes nothing, and concurrent uses change the escalation once.
pub async fn escalation_link_use_is_atomic(store: &Store) {
    let mut e = escalation("esc-1", Some(5_000), true);
    store.put_escalation(&e).await.unwrap();
    e.state_json = r#"{"acked":true}"#.into();
    assert!(
        store
            .put_escalation_using_link(&e, "ack-esc-1", secs(10))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_escalation("esc-1").await.unwrap().as_ref(),
        Some(&e)
    );
    assert!(store.action_link_used("ack-esc-1").await.unwrap());

    let mut again = e.clone();
    again.state_json = r#"{"acked":"twice"}"#.into();
    assert!(
        !store
            .put_escalation_using_link(&again, "ack-esc-1", secs(11))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_escalation("esc-1").await.unwrap().as_ref(),
        Some(&e)
    );

    // Refused input burns nothing.
    let mut bad = e.clone();
    bad.state_json = "not json".into();
    assert!(
        store
            .put_escalation_using_link(&bad, "ack-esc-2", secs(12))
            .await
            .is_err()
    );
    assert!(!store.action_link_used("ack-esc-2").await.unwrap());

    const CLICKS: usize = 8;
    let start = Arc::new(Barrier::new(CLICKS));
    let tasks: Vec<_> = (0..CLICKS)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            let mut e = e.clone();
            e.state_json = format!(r#"{{"click":{i}}}"#);
            tokio::spawn(async move {
                start.wait().await;
                let won = store
                    .put_escalation_using_link(&e, "resolve-esc-1", secs(20))
                    .await
                    .unwrap();
                won.then_some(e)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(
        store.get_escalation("esc-1").await.unwrap().as_ref(),
        winners.first()
    );
}

// ---- calendar feed keys ----

pub async fn feed_keys_read_one_feed_until_rotated(store: &Store) {
    let alice = store.rotate_feed_key("user:alice", secs(1)).await.unwrap();
    let primary = store
        .rotate_feed_key("schedule:primary", secs(1))
        .await
        .unwrap();
    assert!(alice.starts_with(FEED_KEY_PREFIX) && alice != primary);
    assert_eq!(
        store.feed_for_key(&alice).await.unwrap().as_deref(),
        Some("user:alice")
    );
    assert_eq!(
        store.feed_for_key(&primary).await.unwrap().as_deref(),
        Some("schedule:primary")
    );
    // Only the hash is kept.
    let stored: Vec<String> = with_pool!(store, pool => {
        sqlx::query_scalar("SELECT key_hash FROM feed_keys").fetch_all(pool).await
    })
    .unwrap();
    assert!(
        stored
            .iter()
            .all(|h| h != &alice && h != &primary && h.len() == 64)
    );

    let rotated = store.rotate_feed_key("user:alice", secs(2)).await.unwrap();
    assert_ne!(rotated, alice);
    assert_eq!(
        store.feed_for_key(&alice).await.unwrap(),
        None,
        "the old key stops working"
    );
    assert_eq!(
        store.feed_for_key(&rotated).await.unwrap().as_deref(),
        Some("user:alice")
    );
    for wrong in [
        "",
        "hrf_",
        &alice[..alice.len() - 1],
        &alice.replace("hrf_", "hr_x"),
    ] {
        assert_eq!(store.feed_for_key(wrong).await.unwrap(), None, "{wrong:?}");
    }
    assert!(matches!(
        store.rotate_feed_key(" ", secs(3)).await,
        Err(StoreError::Invalid { .. })
    ));
}

// ---- server secrets ----

pub async fn server_secrets_first_value_wins(store: &Store) {
    assert_eq!(
        store.server_secret("links", "aa", secs(1)).await.unwrap(),
        "aa"
    );
    assert_eq!(
        store.server_secret("links", "bb", secs(2)).await.unwrap(),
        "aa"
    );
    assert_eq!(
        store.server_secret("other", "cc", secs(3)).await.unwrap(),
        "cc"
    );
    assert!(matches!(
        store.server_secret("", "x", secs(4)).await,
        Err(StoreError::Invalid { .. })
    ));

    const STARTS: usize = 8;
    let start = Arc::new(Barrier::new(STARTS));
    let tasks: Vec<_> = (0..STARTS)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store
                    .server_secret("race", &format!("v{i}"), secs(5))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "{seen:?}");
}

pub async fn outbox_survives_reopening(url: &str) {
    let store = Store::open(url).await.unwrap();
    let acked = store
        .enqueue(&[notification("page-1", None)], T0)
        .await
        .unwrap();
    store.close().await;

    let reopened = Store::open(url).await.unwrap();
    let item = reopened.get_outbox(acked[0].id).await.unwrap();
    assert_eq!(
        item.map(|i| (i.idempotency_key, i.state)),
        Some(("page-1".to_string(), OutboxState::Pending))
    );
    assert_eq!(
        reopened
            .enqueue(&[notification("page-1", None)], secs(1))
            .await
            .unwrap(),
        vec![Enqueued {
            id: acked[0].id,
            inserted: false
        }],
        "the key is remembered across restarts"
    );
    reopened.close().await;
}

// ---- deploys and changes ----

fn deploy(service: &str, environment: &str, finished_ms: i64, external_id: &str) -> NewDeploy {
    NewDeploy {
        service: service.into(),
        environment: environment.into(),
        version: Some("v1.2.3".into()),
        sha: "a".repeat(40),
        started: Some(Timestamp(T0.0 + finished_ms - 60_000)),
        finished: Timestamp(T0.0 + finished_ms),
        status: DeployStatus::Success,
        labels: vec!["hotfix".into()],
        changes: Some(vec!["b".repeat(40), "c".repeat(40)]),
        source: DeploySource::Github,
        external_id: external_id.into(),
    }
}

fn all_deploys() -> DeployFilter {
    DeployFilter {
        service: None,
        environment: None,
        from: None,
        to: None,
        limit: 1000,
    }
}

pub async fn deploys_recorded_once_per_external_id(store: &Store) {
    let d = deploy("shop", "production", 0, "status-1");
    let id = match store.record_deploy(&d, T0, 100).await.unwrap() {
        Recorded::New(id) => id,
        other => panic!("expected a new deploy, got {other:?}"),
    };
    let got = store.get_deploy(id).await.unwrap().unwrap();
    assert_eq!(got.deploy, d);
    assert_eq!(got.recorded_at, T0);

    // The retried hook updates the same deploy (a later status of it), adding no row.
    let mut again = d.clone();
    again.status = DeployStatus::Failure;
    again.changes = None;
    let later = Timestamp(T0.0 + 5);
    assert_eq!(
        store.record_deploy(&again, later, 100).await.unwrap(),
        Recorded::Updated(id)
    );
    let all = store.list_deploys(&all_deploys()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].deploy.status, DeployStatus::Failure);
    assert_eq!(all[0].deploy.changes, None);
    assert_eq!(all[0].recorded_at, later);

    // The same external id from another source, or for another service, is another deploy.
    let mut other_source = d.clone();
    other_source.source = DeploySource::Gitlab;
    let mut other_service = d.clone();
    other_service.service = "cart".into();
    let a = store.record_deploy(&other_source, T0, 100).await.unwrap();
    let b = store.record_deploy(&other_service, T0, 100).await.unwrap();
    assert!(matches!(a, Recorded::New(x) if x != id));
    assert!(matches!(b, Recorded::New(x) if x != id && x != a.id()));
    assert_eq!(store.list_deploys(&all_deploys()).await.unwrap().len(), 3);
    assert_eq!(store.get_deploy(id + 1000).await.unwrap(), None);
}

pub async fn deploys_listed_by_service_environment_and_time(store: &Store) {
    for (i, (svc, env, at)) in [
        ("shop", "production", 1_000),
        ("shop", "staging", 2_000),
        ("shop", "production", 3_000),
        ("cart", "production", 3_000),
        ("shop", "production", 4_000),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .record_deploy(&deploy(svc, env, at, &format!("e{i}")), T0, 100)
            .await
            .unwrap();
    }
    let list = |f: DeployFilter| async move {
        store
            .list_deploys(&f)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.deploy.external_id, d.deploy.finished.0 - T0.0))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(DeployFilter {
            service: Some("shop".into()),
            environment: Some("production".into()),
            ..all_deploys()
        })
        .await,
        [
            ("e4".to_string(), 4_000),
            ("e2".into(), 3_000),
            ("e0".into(), 1_000)
        ]
    );
    // [from, to): 3_000 is in, 4_000 is out.
    assert_eq!(
        list(DeployFilter {
            from: Some(Timestamp(T0.0 + 2_000)),
            to: Some(Timestamp(T0.0 + 4_000)),
            ..all_deploys()
        })
        .await,
        [
            ("e3".to_string(), 3_000),
            ("e2".into(), 3_000),
            ("e1".into(), 2_000)
        ]
    );
    assert_eq!(
        list(DeployFilter {
            limit: 2,
            ..all_deploys()
        })
        .await
        .len(),
        2
    );
    assert!(
        list(DeployFilter {
            service: Some("nobody".into()),
            ..all_deploys()
        })
        .await
        .is_empty()
    );
}

pub async fn deploys_refuse_bad_input_and_store_nothing(store: &Store) {
    let ok = deploy("shop", "production", 0, "x");
    let mut backwards = ok.clone();
    backwards.started = Some(Timestamp(ok.finished.0 + 1));
    let mut no_sha = ok.clone();
    no_sha.sha = String::new();
    let mut no_env = ok.clone();
    no_env.environment = " ".into();
    let mut no_key = ok.clone();
    no_key.external_id = String::new();
    for (bad, want) in [
        (backwards, "after it finished"),
        (no_sha, "commit sha is empty"),
        (no_env, "environment is empty"),
        (no_key, "external id is empty"),
    ] {
        match store.record_deploy(&bad, T0, 100).await {
            Err(StoreError::Invalid { detail, .. }) => {
                assert!(detail.contains(want), "{detail}")
            }
            other => panic!("expected Invalid ({want}), got {other:?}"),
        }
    }
    assert!(store.list_deploys(&all_deploys()).await.unwrap().is_empty());
}

pub async fn deploys_bounded_per_service(store: &Store) {
    for i in 0..5 {
        store
            .record_deploy(
                &deploy("shop", "production", i * 1000, &format!("s{i}")),
                T0,
                3,
            )
            .await
            .unwrap();
        store
            .record_deploy(
                &deploy("cart", "production", i * 1000, &format!("c{i}")),
                T0,
                3,
            )
            .await
            .unwrap();
    }
    let shop: Vec<String> = store
        .list_deploys(&DeployFilter {
            service: Some("shop".into()),
            ..all_deploys()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.deploy.external_id)
        .collect();
    assert_eq!(shop, ["s4", "s3", "s2"], "the newest three are kept");
    assert_eq!(store.list_deploys(&all_deploys()).await.unwrap().len(), 6);
}

fn commit(repo: &str, sha: char, at: i64, files: Option<&[&str]>) -> CommitRecord {
    CommitRecord {
        repository: repo.into(),
        sha: sha.to_string().repeat(40),
        parents: vec!["0".repeat(40)],
        authored: Timestamp(T0.0 + at - 10),
        committed: Timestamp(T0.0 + at),
        files: files.map(|f| f.iter().map(|s| s.to_string()).collect()),
    }
}

pub async fn commits_upsert_keeps_files_and_bounds(store: &Store) {
    let r = "octo-org/shop";
    let a = commit(r, 'a', 1, None);
    let b = commit(r, 'b', 2, Some(&["src/main.rs"]));
    assert_eq!(
        store
            .upsert_commits(&[a.clone(), b.clone()], 100)
            .await
            .unwrap(),
        2
    );
    // Seen again: with files now for a, without them for b (b keeps its own).
    let a_files = commit(r, 'a', 1, Some(&["README.md"]));
    let b_bare = commit(r, 'b', 2, None);
    assert_eq!(
        store
            .upsert_commits(&[a_files.clone(), b_bare], 100)
            .await
            .unwrap(),
        0
    );
    let mut got = store
        .get_commits(r, &[a.sha.clone(), b.sha.clone(), "f".repeat(40)])
        .await
        .unwrap();
    got.sort_by(|x, y| x.sha.cmp(&y.sha));
    assert_eq!(got, [a_files.clone(), b.clone()]);
    assert!(
        store
            .get_commits("other/repo", std::slice::from_ref(&a.sha))
            .await
            .unwrap()
            .is_empty()
    );

    let by_prefix = store.commits_by_prefix(r, "aaaaaaaa", 10).await.unwrap();
    assert_eq!(by_prefix, std::slice::from_ref(&a_files));
    assert!(
        store
            .commits_by_prefix(r, "abab", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.commits_by_prefix(r, "a%", 10).await,
        Err(StoreError::Invalid { .. })
    ));

    // A batch with a bad commit stores none of it.
    let mut bad = commit(r, 'c', 3, None);
    bad.sha = String::new();
    assert!(matches!(
        store
            .upsert_commits(&[commit(r, 'd', 4, None), bad], 100)
            .await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        store
            .list_commits(r, Timestamp(0), Timestamp(i64::MAX))
            .await
            .unwrap(),
        [a_files.clone(), b.clone()]
    );

    // Bounded per repository: the newest by commit time stay.
    let more = [
        commit(r, 'c', 3, None),
        commit(r, 'e', 5, None),
        commit(r, 'd', 4, None),
    ];
    assert_eq!(store.upsert_commits(&more, 3).await.unwrap(), 3);
    let shas: Vec<char> = store
        .list_commits(r, Timestamp(0), Timestamp(i64::MAX))
        .await
        .unwrap()
        .iter()
        .map(|c| c.sha.chars().next().unwrap())
        .collect();
    assert_eq!(shas, ['c', 'd', 'e']);
    assert_eq!(
        store
            .list_commits(r, Timestamp(T0.0 + 4), Timestamp(T0.0 + 5))
            .await
            .unwrap()
            .len(),
        1,
        "[from, to)"
    );
}

pub async fn pull_requests_and_change_markers(store: &Store) {
    let r = "group/sub/project";
    let pr = |n: i64, merged: i64| PullRequestRecord {
        repository: r.into(),
        number: n,
        opened: T0,
        merged: Timestamp(T0.0 + merged),
        merge_sha: Some("m".repeat(40)),
        head_sha: "h".repeat(40),
    };
    store.upsert_pull_request(&pr(1, 10), 2).await.unwrap();
    store.upsert_pull_request(&pr(1, 10), 2).await.unwrap();
    store.upsert_pull_request(&pr(2, 20), 2).await.unwrap();
    store.upsert_pull_request(&pr(3, 30), 2).await.unwrap();
    let got = store
        .list_pull_requests(r, Timestamp(0), Timestamp(i64::MAX))
        .await
        .unwrap();
    assert_eq!(got, [pr(2, 20), pr(3, 30)]);
    let mut backwards = pr(4, 0);
    backwards.opened = Timestamp(T0.0 + 1);
    assert!(matches!(
        store.upsert_pull_request(&backwards, 2).await,
        Err(StoreError::Invalid { .. })
    ));

    let marker = |at: i64| NewChangeMarker {
        service: "shop".into(),
        summary: format!("config change {at}"),
        source: Some("terraform".into()),
        at: Timestamp(T0.0 + at),
        custom_details_json: Some(r#"{"build":"42"}"#.into()),
        links_json: r#"[{"href":"https://ci.example.com/42","text":"build"}]"#.into(),
    };
    let first = store.record_change_marker(&marker(1), T0, 2).await.unwrap();
    store.record_change_marker(&marker(2), T0, 2).await.unwrap();
    store.record_change_marker(&marker(3), T0, 2).await.unwrap();
    let got: Vec<ChangeMarker> = store
        .list_change_markers(Some("shop"), Timestamp(0), Timestamp(i64::MAX), 10)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|m| m.marker.clone()).collect::<Vec<_>>(),
        [marker(3), marker(2)],
        "newest first, the oldest dropped at the cap"
    );
    assert!(got.iter().all(|m| m.id != first));
    assert!(
        store
            .list_change_markers(Some("cart"), Timestamp(0), Timestamp(i64::MAX), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_change_markers(None, Timestamp(0), Timestamp(i64::MAX), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let mut bad = marker(4);
    bad.links_json = "[".into();
    assert!(matches!(
        store.record_change_marker(&bad, T0, 2).await,
        Err(StoreError::Invalid { .. })
    ));
}

// ---- release gates ----

fn decision(service: &str, environment: &str, at_ms: i64, allowed: bool) -> NewGateDecision {
    NewGateDecision {
        service: service.into(),
        environment: environment.into(),
        labels: vec!["hotfix".into()],
        allowed,
        reasons_json: r#"[{"rule":"min_budget_remaining"}]"#.into(),
        at: Timestamp(T0.0 + at_ms),
        override_id: None,
        actor: "ci".into(),
    }
}

/// A cap of 16: sixteen rows stay; the seventeenth write drops the oldest down to 14 (seven
/// eighths), newest kept by time, not by insertion; another scope is untouched.
pub async fn a_scope_past_its_cap_drops_its_oldest_eighth(store: &Store) {
    store
        .record_gate_decision(&decision("cart", "production", 0, true), 16)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..16 {
        // Written newest first but one: the time order is not the insertion order.
        let at = if i == 0 { 0 } else { (20 - i) * 1000 };
        let d = decision("shop", "production", at, true);
        ids.push(store.record_gate_decision(&d, 16).await.unwrap());
    }
    let listed = store.list_gate_decisions("shop", None, 100).await.unwrap();
    assert_eq!(listed.len(), 16);
    let newest = store
        .record_gate_decision(&decision("shop", "production", 30_000, true), 16)
        .await
        .unwrap();
    let listed: Vec<i64> = store
        .list_gate_decisions("shop", None, 100)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    // Kept: the new one and the 13 newest before it (at 19 s down to 7 s); dropped: those at 6 s
    // and 5 s, and the first one written (at 0 s).
    let mut want = vec![newest];
    want.extend(&ids[1..14]);
    assert_eq!(listed, want);
    assert_eq!(
        store
            .list_gate_decisions("cart", None, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn gate_decisions_listed_and_bounded(store: &Store) {
    let mut ids = Vec::new();
    for (i, env) in ["production", "staging", "production", "production"]
        .iter()
        .enumerate()
    {
        let d = decision("shop", env, i as i64 * 1000, i % 2 == 0);
        ids.push(store.record_gate_decision(&d, 3).await.unwrap());
    }
    store
        .record_gate_decision(&decision("cart", "production", 0, true), 3)
        .await
        .unwrap();
    // The cap keeps the service's newest three; the other service is untouched.
    let listed = store.list_gate_decisions("shop", None, 100).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[3], ids[2], ids[1]]
    );
    assert_eq!(store.get_gate_decision(ids[0]).await.unwrap(), None);
    let prod = store
        .list_gate_decisions("shop", Some("production"), 1)
        .await
        .unwrap();
    assert_eq!(prod.len(), 1);
    assert_eq!(
        prod[0].decision,
        decision("shop", "production", 3000, false)
    );
    let got = store.get_gate_decision(ids[2]).await.unwrap().unwrap();
    assert_eq!(got.decision, decision("shop", "production", 2000, true));
    let some = store
        .gate_decisions_by_id(&[ids[1], ids[0], 9_999])
        .await
        .unwrap();
    assert_eq!(some.iter().map(|d| d.id).collect::<Vec<_>>(), [ids[1]]);
    assert_eq!(
        store
            .list_gate_decisions("cart", None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Reasons that are not JSON are refused, and nothing is stored.
    let mut bad = decision("shop", "production", 9000, true);
    bad.reasons_json = "not json".into();
    assert!(matches!(
        store.record_gate_decision(&bad, 3).await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        store
            .list_gate_decisions("shop", None, 100)
            .await
            .unwrap()
            .len(),
        3
    );
}

fn gate_override(environment: &str, from_s: i64, until_s: i64) -> NewGateOverride {
    NewGateOverride {
        service: "shop".into(),
        environment: environment.into(),
        reason: "launch day".into(),
        approver: "alice".into(),
        created_by: "release-bot".into(),
        created: secs(from_s),
        until: secs(until_s),
    }
}

pub async fn gate_overrides_time_boxed_and_revoked_once(store: &Store) {
    let a = store
        .add_gate_override(&gate_override("production", 0, 3600), 100)
        .await
        .unwrap();
    let b = store
        .add_gate_override(&gate_override("staging", 10, 3600), 100)
        .await
        .unwrap();
    let in_force = |at| async move {
        store
            .gate_overrides_in_force("shop", "production", secs(at))
            .await
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(in_force(0).await, [a], "from its creation");
    assert_eq!(in_force(3599).await, [a]);
    assert!(in_force(3600).await.is_empty(), "until is exclusive");
    assert!(in_force(-1).await.is_empty());
    // Revoked once: a second revocation keeps the first's time and revoker.
    match store
        .revoke_gate_override("shop", a, "bob", secs(60))
        .await
        .unwrap()
    {
        Revoked::Now(r) => assert_eq!(r.revoked, Some((secs(60), "bob".to_string()))),
        other => panic!("expected a revocation, got {other:?}"),
    }
    match store
        .revoke_gate_override("shop", a, "carol", secs(90))
        .await
        .unwrap()
    {
        Revoked::Already(r) => assert_eq!(r.revoked, Some((secs(60), "bob".to_string()))),
        other => panic!("expected the earlier revocation, got {other:?}"),
    }
    assert!(in_force(120).await.is_empty());
    assert_eq!(
        store
            .revoke_gate_override("cart", b, "bob", secs(60))
            .await
            .unwrap(),
        Revoked::NotFound,
        "an override is revoked through its own service"
    );
    let listed = store.list_gate_overrides("shop", 10).await.unwrap();
    assert_eq!(listed.iter().map(|o| o.id).collect::<Vec<_>>(), [b, a]);
    assert_eq!(listed[1].over, gate_override("production", 0, 3600));
    // Empty ranges and missing reasons are refused, storing nothing; the cap drops the oldest.
    for bad in [
        gate_override("production", 10, 10),
        NewGateOverride {
            reason: " ".into(),
            ..gate_override("production", 0, 10)
        },
    ] {
        assert!(matches!(
            store.add_gate_override(&bad, 100).await,
            Err(StoreError::Invalid { .. })
        ));
    }
    let c = store
        .add_gate_override(&gate_override("production", 20, 30), 2)
        .await
        .unwrap();
    let listed = store.list_gate_overrides("shop", 10).await.unwrap();
    assert_eq!(listed.iter().map(|o| o.id).collect::<Vec<_>>(), [c, b]);
}

pub async fn deploys_link_the_gate_decision_they_passed(store: &Store) {
    const HOUR: i64 = 3_600_000;
    let old = store
        .record_gate_decision(&decision("shop", "production", 0, true), 100)
        .await
        .unwrap();
    let allow = store
        .record_gate_decision(&decision("shop", "production", 7 * HOUR, true), 100)
        .await
        .unwrap();
    let deny = store
        .record_gate_decision(&decision("shop", "production", 8 * HOUR, false), 100)
        .await
        .unwrap();
    let staging = store
        .record_gate_decision(&decision("shop", "staging", 8 * HOUR, true), 100)
        .await
        .unwrap();
    // Started at 9 h: the latest allow for its service and environment within 6 h is `allow`
    // (the later deny and the staging allow do not count; `old` is too old).
    let d = store
        .record_deploy(
            &deploy("shop", "production", 9 * HOUR + 60_000, "run-1"),
            T0,
            100,
        )
        .await
        .unwrap()
        .id();
    let six_hours = Span::hours(6);
    assert_eq!(
        store.link_gate_decision(d, None, six_hours).await.unwrap(),
        Some(allow)
    );
    assert_eq!(
        store.get_deploy(d).await.unwrap().unwrap().gate_decision_id,
        Some(allow)
    );
    // A named decision replaces it, if it is an allow of the same service and environment.
    assert_eq!(
        store
            .link_gate_decision(d, Some(old), six_hours)
            .await
            .unwrap(),
        Some(old)
    );
    for wrong in [deny, staging, 9_999] {
        assert!(matches!(
            store.link_gate_decision(d, Some(wrong), six_hours).await,
            Err(StoreError::Invalid { .. })
        ));
    }
    // An automatic link never replaces one already made.
    assert_eq!(
        store.link_gate_decision(d, None, six_hours).await.unwrap(),
        Some(old)
    );
    // A deploy with no allow before it stays unlinked.
    let early = store
        .record_deploy(&deploy("shop", "production", -HOUR, "run-0"), T0, 100)
        .await
        .unwrap()
        .id();
    assert_eq!(
        store
            .link_gate_decision(early, None, six_hours)
            .await
            .unwrap(),
        None
    );
}

// ---- action runs ----

fn action_run(id: &str, action: &str, state: ActionRunState, at: i64) -> ActionRun {
    ActionRun {
        id: id.to_string(),
        action: action.to_string(),
        trigger: "manual".to_string(),
        context_json: r#"{"service":"checkout"}"#.to_string(),
        request_json: r#"{"method":"POST","url":"https://example.com/"}"#.to_string(),
        state,
        requested_by: "ops".to_string(),
        created_at: secs(at),
        approved_by: None,
        decided_at: None,
        reason: None,
        attempts: 0,
        last_error: None,
        finished_at: None,
        incident_id: None,
    }
}

fn run_item(id: &str) -> NewOutboxItem {
    NewOutboxItem {
        idempotency_key: format!("action-run:{id}"),
        receiver: "rollback".to_string(),
        integration: "action".to_string(),
        payload_json: format!(r#"{{"run":"{id}"}}"#),
        not_before: None,
    }
}

pub async fn action_runs_are_stored_with_their_outbox_item(store: &Store) {
    let queued = action_run("run_a", "rollback", ActionRunState::Queued, 0);
    store
        .create_action_run(&queued, Some(&run_item("run_a")), 100)
        .await
        .unwrap();
    let waiting = ActionRun {
        incident_id: Some(7),
        ..action_run("run_b", "rollback", ActionRunState::AwaitingApproval, 1)
    };
    store.create_action_run(&waiting, None, 100).await.unwrap();
    assert_eq!(
        store.get_action_run("run_a").await.unwrap(),
        Some(queued.clone())
    );
    assert_eq!(store.get_action_run("run_b").await.unwrap(), Some(waiting));
    assert_eq!(store.get_action_run("run_x").await.unwrap(), None);
    // Only the queued run is in the outbox, under the key derived from its id.
    let items = store.list_outbox(None, 10).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].idempotency_key, "action-run:run_a");
    assert_eq!(items[0].integration, "action");

    // A refused run stores nothing, and neither does its outbox item.
    let bad = ActionRun {
        context_json: "not json".to_string(),
        ..action_run("run_c", "rollback", ActionRunState::Queued, 2)
    };
    assert!(matches!(
        store
            .create_action_run(&bad, Some(&run_item("run_c")), 100)
            .await,
        Err(StoreError::Invalid { .. })
    ));
    // A taken id is refused whole: the second outbox item is not queued either.
    let again = action_run("run_a", "other", ActionRunState::Queued, 3);
    assert!(
        store
            .create_action_run(&again, Some(&run_item("run_a2")), 100)
            .await
            .is_err()
    );
    assert_eq!(store.get_action_run("run_c").await.unwrap(), None);
    assert_eq!(store.list_outbox(None, 10).await.unwrap().len(), 1);
    assert_eq!(store.get_action_run("run_a").await.unwrap(), Some(queued));
}

pub async fn action_runs_listed_filtered_and_bounded(store: &Store) {
    for (i, (action, state)) in [
        ("rollback", ActionRunState::DryRun),
        ("page", ActionRunState::Queued),
        ("rollback", ActionRunState::Queued),
        ("rollback", ActionRunState::AwaitingApproval),
    ]
    .into_iter()
    .enumerate()
    {
        let run = action_run(&format!("run_{i}"), action, state, i as i64);
        store.create_action_run(&run, None, 3).await.unwrap();
    }
    let ids = |runs: Vec<ActionRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = ActionRunFilter {
        limit: 10,
        ..Default::default()
    };
    // The oldest of four went when the fourth came: three kept, newest first.
    assert_eq!(
        ids(store.list_action_runs(&all).await.unwrap()),
        ["run_3", "run_2", "run_1"]
    );
    let rollback = ActionRunFilter {
        action: Some("rollback".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_action_runs(&rollback).await.unwrap()),
        ["run_3", "run_2"]
    );
    let queued = ActionRunFilter {
        state: Some(ActionRunState::Queued),
        limit: 1,
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_action_runs(&queued).await.unwrap()),
        ["run_2"]
    );
}

pub async fn action_runs_decided_once_and_finished_from_queued(store: &Store) {
    for id in ["run_yes", "run_no"] {
        let run = action_run(id, "rollback", ActionRunState::AwaitingApproval, 0);
        store.create_action_run(&run, None, 100).await.unwrap();
    }
    let item = run_item("run_yes");
    assert!(
        store
            .decide_action_run("run_yes", Some(&item), "alice", None, secs(5))
            .await
            .unwrap()
    );
    // Decided runs are decided for good: neither a second approval nor a rejection changes them.
    assert!(
        !store
            .decide_action_run("run_yes", Some(&item), "bob", None, secs(6))
            .await
            .unwrap()
    );
    assert!(
        !store
            .decide_action_run("run_yes", None, "bob", Some("no"), secs(6))
            .await
            .unwrap()
    );
    assert!(
        store
            .decide_action_run("run_no", None, "bob", Some("not now"), secs(7))
            .await
            .unwrap()
    );
    assert!(
        !store
            .decide_action_run("run_no", Some(&run_item("run_no")), "alice", None, secs(8))
            .await
            .unwrap()
    );
    let yes = store.get_action_run("run_yes").await.unwrap().unwrap();
    assert_eq!(
        (
            yes.state,
            yes.approved_by.as_deref(),
            yes.decided_at,
            yes.finished_at
        ),
        (ActionRunState::Queued, Some("alice"), Some(secs(5)), None)
    );
    let no = store.get_action_run("run_no").await.unwrap().unwrap();
    assert_eq!(
        (
            no.state,
            no.approved_by.as_deref(),
            no.reason.as_deref(),
            no.finished_at
        ),
        (
            ActionRunState::Rejected,
            Some("bob"),
            Some("not now"),
            Some(secs(7))
        )
    );
    // Only the approved run reached the outbox.
    let keys: Vec<String> = store
        .list_outbox(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.idempotency_key)
        .collect();
    assert_eq!(keys, ["action-run:run_yes"]);

    // Attempts are recorded while queued; the final outcome once.
    assert!(
        store
            .record_action_attempt("run_yes", 1, Some("HTTP 503"), None, secs(9))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_action_attempt(
                "run_yes",
                2,
                None,
                Some(ActionRunState::Delivered),
                secs(10)
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_action_attempt(
                "run_yes",
                3,
                Some("late"),
                Some(ActionRunState::Failed),
                secs(11)
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_action_attempt("run_no", 1, None, Some(ActionRunState::Delivered), secs(11))
            .await
            .unwrap()
    );
    assert!(matches!(
        store
            .record_action_attempt("run_yes", 1, None, Some(ActionRunState::Rejected), secs(12))
            .await,
        Err(StoreError::Invalid { .. })
    ));
    let yes = store.get_action_run("run_yes").await.unwrap().unwrap();
    assert_eq!(
        (yes.state, yes.attempts, yes.last_error, yes.finished_at),
        (ActionRunState::Delivered, 2, None, Some(secs(10)))
    );
}
