//! What the server's tests share: a state on a controlled clock with one token per scope, and
//! requests sent through the router without a socket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use headroom_core::Timestamp;
use headroom_server::app;
use headroom_service::{Clock, ConfigSource, Headroom, build_state, evaluate};
use headroom_store::{Scope, Store, TokenStore};
use headroom_tsdb::Tsdb;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

/// A minute boundary (2027-01-15T08:00:00Z), so every event below lands in one known bucket.
pub const T0: i64 = 1_800_000_000_000;
/// The tests' "now": half a minute after `T0`.
pub const NOW: i64 = T0 + 30_000;
/// Unix seconds of the events pushed in these tests: 10 s after `T0`, in the same minute.
pub const EV_SECS: i64 = T0 / 1000 + 10;
pub const EXAMPLE: &str = "example-checkout-availability";

pub struct Ctx {
    pub state: Headroom,
    pub app: Router,
    pub admin: String,
    pub ingest: String,
    pub respond: String,
    pub read: String,
    pub clock: Arc<AtomicI64>,
    pub _dir: TempDir,
}

pub fn clock_at(ms: i64) -> (Clock, Arc<AtomicI64>) {
    let cell = Arc::new(AtomicI64::new(ms));
    let c = cell.clone();
    (Arc::new(move || Timestamp(c.load(Ordering::SeqCst))), cell)
}

pub async fn setup(source: ConfigSource) -> Ctx {
    let dir = TempDir::new().unwrap();
    setup_in(source, dir).await
}

pub async fn setup_in(source: ConfigSource, dir: TempDir) -> Ctx {
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    setup_on(source, dir, &db).await
}

/// A state on the database at `db` (SQLite or PostgreSQL).
pub async fn setup_on(source: ConfigSource, dir: TempDir, db: &str) -> Ctx {
    let (clock, cell) = clock_at(NOW);
    let store = Store::open(db).await.unwrap();
    let now = Timestamp(NOW);
    let (_, admin) = store
        .create_token("admin", Scope::Admin, now)
        .await
        .unwrap();
    let (_, ingest) = store
        .create_token("ingest", Scope::Ingest, now)
        .await
        .unwrap();
    let (_, respond) = store
        .create_token("respond", Scope::Respond, now)
        .await
        .unwrap();
    let (_, read) = store.create_token("read", Scope::Read, now).await.unwrap();
    let state = build_state(source, Tsdb::in_memory(), store, clock)
        .await
        .unwrap();
    evaluate(&state, None).await;
    Ctx {
        app: app(state.clone()),
        state,
        admin,
        ingest,
        respond,
        read,
        clock: cell,
        _dir: dir,
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    oneshot(app, req.body(body.into()).unwrap()).await
}

/// Sends a request as built, through the router without a socket.
pub async fn oneshot(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// A JSON body posted with `token`.
pub async fn post(ctx: &Ctx, token: &str, uri: &str, body: Value) -> Resp {
    send(
        &ctx.app,
        Method::POST,
        uri,
        Some(token),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

pub async fn get(app: &Router, uri: &str, token: Option<&str>) -> Resp {
    send(app, Method::GET, uri, token, &[], Body::empty()).await
}

pub async fn push(ctx: &Ctx, slo: &str, body: Value, key: Option<&str>) -> Resp {
    let mut h = vec![("content-type", "application/json")];
    if let Some(k) = key {
        h.push(("idempotency-key", k));
    }
    send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/slos/{slo}/events"),
        Some(&ctx.ingest),
        &h,
        body.to_string(),
    )
    .await
}

/// `POST /-/reload` with the admin token.
pub async fn reload(ctx: &Ctx) -> Resp {
    send(
        &ctx.app,
        Method::POST,
        "/-/reload",
        Some(&ctx.admin),
        &[],
        Body::empty(),
    )
    .await
}

/// Pushes one event at `EV_SECS` with the ingest token.
pub async fn push_event(ctx: &Ctx, slo: &str, good: f64, total: f64) -> Resp {
    push(
        ctx,
        slo,
        json!({"events": [event(EV_SECS, good, total)]}),
        None,
    )
    .await
}

/// Evaluates every SLO at the current clock and reads one back.
pub async fn slo(ctx: &Ctx, id: &str) -> Value {
    evaluate(&ctx.state, None).await;
    let r = get(&ctx.app, &format!("/api/v1/slos/{id}"), Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

pub fn totals(v: &Value) -> (f64, f64) {
    (
        v["good_events"].as_f64().unwrap_or(-1.0),
        v["total_events"].as_f64().unwrap_or(-1.0),
    )
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[track_caller]
pub fn assert_close(got: &Value, want: f64) {
    let g = got
        .as_f64()
        .unwrap_or_else(|| panic!("{got} is not a number"));
    assert!(close(g, want), "got {g}, want {want}");
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// A PostgreSQL schema of its own in the database `HEADROOM_TEST_POSTGRES_URL` names, dropped
/// when the value is; `None` (said on stderr) when that is not set.
pub struct PgSchema {
    admin_url: String,
    schema: String,
    pub url: String,
}

impl PgSchema {
    pub async fn create(test: &str) -> Option<PgSchema> {
        use sqlx::Connection;
        let Ok(admin_url) = std::env::var("HEADROOM_TEST_POSTGRES_URL") else {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\nSKIPPED {test}: HEADROOM_TEST_POSTGRES_URL is not set"
            );
            return None;
        };
        let schema = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
        let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options[search_path]={schema}");
        Some(PgSchema {
            admin_url,
            schema,
            url,
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // A blocking drop on its own thread: the test's runtime may be gone.
        let (admin_url, schema) = (self.admin_url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

pub async fn setup_file(text: &str) -> (Ctx, PathBuf) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("slos.yaml");
    write(&path, text);
    let ctx = setup_in(ConfigSource::Paths(vec![path.clone()]), dir).await;
    (ctx, path)
}

pub fn event(secs: i64, good: f64, total: f64) -> Value {
    json!({"timestamp": secs, "good": good, "total": total})
}

/// The value of the one sample of `name` whose labels include every pair in `labels`.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?} in:\n{text}");
    found[0]
}
