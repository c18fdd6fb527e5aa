//! Which alerts are headroom's own is recorded when headroom raises them, not read back from
//! what an alert says: a posted alert that names an SLO in its labels and `generatorURL` is not
//! resolved when that SLO goes away, while the SLO's own burn alert is, also after a restart.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use headroom_core::Timestamp;
use headroom_routing::alert::Alert;
use headroom_routing::label_set;
use headroom_service::alerting::OWN_SLO;
use headroom_service::{ConfigSource, Headroom, build_state};
use headroom_store::Store;
use headroom_tsdb::Tsdb;

/// 2027-01-15T08:00:00Z.
const NOW: i64 = 1_800_000_000_000;

async fn service(db: &str) -> Headroom {
    let store = Store::open(db).await.unwrap();
    build_state(
        ConfigSource::embedded(),
        Tsdb::in_memory(),
        store,
        Arc::new(|| Timestamp(NOW)),
    )
    .await
    .unwrap()
}

fn firing(alertname: &str, generator_url: &str) -> Alert {
    let at = Utc.timestamp_millis_opt(NOW).unwrap();
    Alert {
        labels: label_set([("alertname", alertname), ("slo", "checkout")]),
        annotations: Default::default(),
        starts_at: at,
        ends_at: None,
        generator_url: generator_url.to_string(),
        updated_at: at,
        timeout: false,
    }
}

async fn is_firing(h: &Headroom, name: &str) -> bool {
    let at = Utc.timestamp_millis_opt(NOW).unwrap();
    let desk = h.alerting.desk.lock().await;
    desk.dispatcher
        .alerts()
        .iter()
        .any(|a| a.labels["alertname"] == name && !a.resolved_at(at))
}

#[tokio::test]
async fn only_alerts_headroom_raised_for_an_slo_are_resolved_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let h = service(&db).await;
    let link = format!("{}/api/v1/slos/checkout", h.alerting.external_url);
    h.accept(
        vec![firing("SLOBurn", &link)],
        &format!("{OWN_SLO}checkout"),
    )
    .await
    .unwrap();
    // Posted through the API, claiming the same SLO by label and link.
    h.accept(vec![firing("Spoofed", &link)], "api")
        .await
        .unwrap();
    h.store.close().await;

    // After a restart the owner is still known (it was stored with the alert).
    let h = service(&db).await;
    assert!(is_firing(&h, "SLOBurn").await && is_firing(&h, "Spoofed").await);
    h.alerting.resolve_removed_slos(&h.incidents, &[]).await;
    assert!(
        !is_firing(&h, "SLOBurn").await,
        "the SLO's own alert resolves with it"
    );
    assert!(
        is_firing(&h, "Spoofed").await,
        "a posted alert is not headroom's to resolve"
    );
}
