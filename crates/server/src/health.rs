//! `GET /healthz` (the process answers), `GET /readyz` (storage open, first evaluation done)
//! and `GET /`, the front page.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use headroom_api::home::{Home, Link};

use crate::html;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/healthz",
    summary = "Liveness",
    responses((status = 200, description = "alive", body = String, content_type = "text/plain"))
)]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(
    get,
    path = "/readyz",
    summary = "Readiness: storage open and first evaluation done",
    responses(
        (status = 200, description = "ready", body = String, content_type = "text/plain"),
        (status = 503, description = "starting", body = String, content_type = "text/plain")
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// Where to go from `/`: the API document first, since it lists everything else.
const LINKS: [(&str, &str); 7] = [
    (
        "/api/v1/openapi.json",
        "The API document (OpenAPI): every route, its scope and its answers",
    ),
    (
        "/api/v1/slos",
        "SLOs with their SLI, error budget and burn rates",
    ),
    ("/api/v2/alerts", "Alerts, in Alertmanager's API v2"),
    ("/api/v1/incidents", "Incidents"),
    (
        "/metrics",
        "Prometheus metrics of the SLOs and of the server",
    ),
    ("/healthz", "Liveness"),
    ("/readyz", "Readiness"),
];

#[utoipa::path(
    get,
    path = "/",
    summary = "Front page: the version and where to go (HTML for browsers, JSON otherwise)",
    responses((
        status = 200,
        description = "the front page",
        content((Home = "application/json"), (String = "text/html"))
    ))
)]
pub async fn home(headers: HeaderMap) -> Response {
    let home = Home {
        name: "headroom".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        links: LINKS
            .iter()
            .map(|(href, title)| Link {
                href: href.to_string(),
                title: title.to_string(),
            })
            .collect(),
    };
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !wants_html {
        return Json(home).into_response();
    }
    let items: String = home
        .links
        .iter()
        .map(|l| {
            format!(
                "<li><a href=\"{0}\">{0}</a>: {1}</li>",
                html::escape(&l.href),
                html::escape(&l.title)
            )
        })
        .collect();
    html::page(&format!(
        "<h1>headroom {}</h1><p>Read tokens go in an <code>Authorization: Bearer</code> \
         header unless the config allows anonymous reads. The README beside the binary \
         tells how to configure SLOs, alerts and on-call.</p><ul>{items}</ul>",
        html::escape(&home.version)
    ))
}
