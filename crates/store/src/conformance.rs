//! The behaviour every backend must show, as async test functions. `tests/conformance.rs` runs
//! each one against SQLite and PostgreSQL; a new backend runs them all the same way.
//!
//! Functions in [`STORE_TESTS`] take a freshly opened, empty [`Store`]; those in [`URL_TESTS`]
//! take the address of an empty database and open it themselves (they test opening).
//! They panic on failure, like `assert!`.

use std::collections::HashSet;
use std::sync::Arc;

use headroom_core::{Span, Timestamp};
use sha2::{Digest, Sha256};
use tokio::sync::Barrier;

use crate::{
    AlertStateRecord, AlertStore, AlertTransition, ConfigLoad, ConfigStore, LeaseStore, MIGRATIONS,
    Scope, Store, StoreError, TokenInfo, TokenStore,
};

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
];

/// Every test taking a database address.
pub const URL_TESTS: &[&str] = &[
    "migrations_apply_once",
    "concurrent_opens_migrate_once",
    "newer_schema_is_refused",
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
    for scope in [Scope::Read, Scope::Ingest, Scope::Admin] {
        let (_, plain) = store
            .create_token(&format!("{scope}-token"), scope, T0)
            .await
            .unwrap();
        let got = store.verify_token(&plain, T0).await.unwrap().unwrap();
        assert_eq!(got.scope, scope);
        assert_eq!(got.name, format!("{scope}-token"));
        assert!(got.scope.allows(Scope::Read));
        assert_eq!(got.scope.allows(Scope::Ingest), scope != Scope::Read);
        assert_eq!(got.scope.allows(Scope::Admin), scope == Scope::Admin);
    }
}

// ---- alerts ----

fn transition(at: i64, slo: &str, group: &str, sev: &str, from: &str, to: &str) -> AlertTransition {
    AlertTransition {
        at: Timestamp::from_millis(at),
        slo: slo.into(),
        group: group.into(),
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
        group: "".into(),
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
        group: group.into(),
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

fn versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.version).collect()
}

pub async fn migrations_apply_once(url: &str) {
    let store = Store::open(url).await.unwrap();
    let applied = store.applied_migrations().await.unwrap();
    assert_eq!(
        applied.iter().map(|m| m.version).collect::<Vec<_>>(),
        versions()
    );
    assert_eq!(applied[0].name, MIGRATIONS[0].name);
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
        versions()
    );
    assert_eq!(b.applied_migrations().await.unwrap(), applied);
    a.close().await;
    b.close().await;
}

pub async fn newer_schema_is_refused(url: &str) {
    let known = *versions().last().unwrap();
    let store = Store::open(url).await.unwrap();
    with_pool!(store, pool => {
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from the future', 0)")
            .bind(known + 1)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    store.close().await;
    match Store::open(url).await {
        Err(StoreError::NewerSchema { found, known: k }) => {
            assert_eq!((found, k), (known + 1, known))
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}
