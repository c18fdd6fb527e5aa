//! `GET /api/v1/openapi.json`: the API described for clients and generators.

use axum::Json;
use serde_json::{Value, json};

fn op(summary: &str, scope: &str, responses: &[(&str, &str)]) -> Value {
    let mut r = serde_json::Map::new();
    for (code, desc) in responses {
        r.insert((*code).into(), json!({"description": desc, "content": {"application/json": {"schema": {"$ref": if code.starts_with('2') { "#/components/schemas/Any" } else { "#/components/schemas/Error" }}}}}));
    }
    json!({"summary": summary, "description": format!("Needs a token with scope `{scope}`."), "security": [{"bearer": []}], "responses": r})
}

fn slo_param() -> Value {
    json!({"name": "slo", "in": "path", "required": true, "schema": {"type": "string"}, "description": "SLO id"})
}

fn name_param(desc: &str) -> Value {
    json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": desc})
}

fn query(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}, "description": desc})
}

pub fn document() -> Value {
    let with = |mut v: Value, params: Vec<Value>| {
        v["parameters"] = Value::Array(params);
        v
    };
    let mut get_slos = op(
        "List SLOs with their budgets, burn rates and alert states",
        "read",
        &[("200", "SLOs")],
    );
    get_slos["responses"]["200"]["content"]["application/json"]["schema"] = json!({"type": "object", "properties": {"slos": {"type": "array", "items": {"$ref": "#/components/schemas/Slo"}}}});
    let mut events = op(
        "Push SLI events (all or nothing; Idempotency-Key makes a retry count once)",
        "ingest",
        &[
            ("200", "accepted, or recognised as a duplicate"),
            ("400", "malformed batch"),
            ("404", "unknown SLO"),
            ("413", "body too large"),
            (
                "422",
                "timestamps outside retention or too far in the future",
            ),
        ],
    );
    events["parameters"] = json!([slo_param(), {"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 256}}]);
    events["requestBody"] = json!({"required": true, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}},
        "application/x-ndjson": {"schema": {"$ref": "#/components/schemas/Event"}}}});
    let mut write = op(
        "Prometheus remote_write 1.0 (snappy-compressed protobuf WriteRequest): samples of series some SLO selects are counted",
        "ingest",
        &[
            ("204", "stored"),
            ("400", "malformed body: Prometheus does not retry it"),
            ("413", "body too large"),
            ("503", "storage failed: retry"),
        ],
    );
    write["requestBody"] = json!({"required": true, "content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "headroom", "version": env!("CARGO_PKG_VERSION"),
                 "description": "SLOs, error budgets and burn-rate alerts. Errors are JSON {\"error\", \"detail\"}."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Any": {"type": "object"},
                "Error": {"type": "object", "required": ["error", "detail"], "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}},
                "Event": {"type": "object", "required": ["timestamp", "good", "total"], "properties": {
                    "timestamp": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number", "description": "unix seconds"}]},
                    "good": {"type": "number", "minimum": 0}, "total": {"type": "number", "minimum": 0},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "values of the SLO's grouping labels"}}},
                "EventBatch": {"type": "object", "required": ["events"], "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
                "Slo": {"type": "object", "properties": {
                    "id": {"type": "string"}, "service": {"type": "string"}, "objective": {"type": "number"}, "window": {"type": "string"},
                    "sli": {"type": "number", "nullable": true}, "good_events": {"type": "number"}, "total_events": {"type": "number"},
                    "budget_consumed": {"type": "number"}, "budget_remaining": {"type": "number"},
                    "burn_rates": {"type": "object", "additionalProperties": {"type": "number", "nullable": true}},
                    "alerts": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "state": {"type": "string", "enum": ["inactive", "pending", "firing", "resolved"]}, "since": {"type": "string", "nullable": true}}}},
                    "time_to_exhaustion_seconds": {"type": "number", "nullable": true},
                    "forecast_budget_remaining": {"type": "number", "nullable": true},
                    "groups": {"type": "array", "items": {"type": "object"}}}}
            }
        },
        "paths": {
            "/api/v1/slos": {"get": get_slos},
            "/api/v1/slos/{slo}": {"get": with(op("One SLO", "read", &[("200", "the SLO"), ("404", "unknown SLO")]), vec![slo_param()])},
            "/api/v1/slos/{slo}/series": {"get": with(op("SLI, budget remaining and burn rates over time, for charts", "read", &[("200", "points"), ("400", "bad range or step"), ("404", "unknown SLO or group")]),
                vec![slo_param(), query("from", "RFC 3339 or unix seconds (default: to − 1d)"), query("to", "RFC 3339 or unix seconds (default: now)"), query("step", "duration such as 5m, or seconds"), query("group", "group key for grouped SLOs")])},
            "/api/v1/slos/{slo}/events": {"post": events},
            "/api/v1/alerts/transitions": {"get": with(op("Alert state changes, newest first", "read", &[("200", "transitions")]),
                vec![query("slo", "only this SLO"), query("from", "RFC 3339 or unix seconds"), query("to", "RFC 3339 or unix seconds"), query("limit", "at most 1000 (default 100)")])},
            "/api/v1/write": {"post": write},
            "/api/v1/probes": {"get": op("Probes with their latest result", "read", &[("200", "probes")])},
            "/api/v1/probes/{name}/results": {"get": with(op("A probe's recent results, newest first", "read", &[("200", "results"), ("404", "unknown probe")]),
                vec![name_param("probe name"), query("limit", "at most this many (default: all kept, 200)")])},
            "/api/v1/heartbeats/{name}": {"post": with(op("A heartbeat's ping: the job ran", "ingest", &[("200", "received"), ("404", "no such heartbeat")]), vec![name_param("heartbeat probe name")])},
            "/api/v1/targets": {"get": op("Scrape targets and their health", "read", &[("200", "targets")])},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/-/reload": {"post": op("Reload the config; an invalid one is refused and the running one stays", "admin", &[("200", "reloaded"), ("422", "invalid config, one problem a line")])},
            "/metrics": {"get": {"summary": "Prometheus metrics: SLO state and headroom's health", "responses": {"200": {"description": "text exposition format"}}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
            "/readyz": {"get": {"summary": "Readiness: storage open and first evaluation done", "responses": {"200": {"description": "ready"}, "503": {"description": "starting"}}}}
        }
    })
}

pub async fn openapi() -> Json<Value> {
    Json(document())
}
