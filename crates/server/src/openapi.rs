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
    let mut doc = document();
    if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), respond_paths()) {
        paths.extend(more);
    }
    Json(doc)
}

fn path_param(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": desc})
}

/// The response side: Alertmanager API v2, PagerDuty Events v2, on-call, escalations, incidents.
fn respond_paths() -> Value {
    let with = |mut v: Value, params: Vec<Value>| {
        v["parameters"] = Value::Array(params);
        v
    };
    let id = |desc: &str| path_param("id", desc);
    let inc = |summary: &str| {
        with(
            op(
                summary,
                "respond",
                &[
                    ("200", "the incident"),
                    ("400", "bad body"),
                    ("404", "no such incident"),
                    ("409", "a move the incident's status does not allow"),
                ],
            ),
            vec![id("incident id")],
        )
    };
    let link = |summary: &str, done: &str| {
        json!({"summary": summary, "description": "No token: the signed link is the credential (expiring, single use).",
            "parameters": [path_param("token", "the link's signed token")],
            "responses": {"200": {"description": done}, "400": {"description": "malformed"}, "403": {"description": "forged"}, "409": {"description": "already used"}, "410": {"description": "expired"}}})
    };
    let confirm = "a page with a button that POSTs to the link; changes nothing";
    json!({
        "/api/v2/alerts": {
            "get": with(op("Alerts (Alertmanager API v2)", "read", &[("200", "gettableAlerts"), ("400", "bad filter")]),
                vec![query("filter", "matcher, repeatable"), query("active", "true|false"), query("silenced", "true|false"), query("inhibited", "true|false"), query("receiver", "regex")]),
            "post": op("Post alerts (Alertmanager API v2); the batch is validated whole", "ingest", &[("200", "accepted"), ("400", "invalid alert, nothing stored")])},
        "/api/v2/alerts/groups": {"get": with(op("Alert groups (Alertmanager API v2)", "read", &[("200", "alertGroups"), ("400", "bad filter")]),
            vec![query("filter", "matcher, repeatable"), query("active", "true|false"), query("silenced", "true|false"), query("inhibited", "true|false"), query("receiver", "regex")])},
        "/api/v2/status": {"get": op("Cluster, config and version (Alertmanager API v2)", "read", &[("200", "status")])},
        "/api/v2/receivers": {"get": op("Receiver names", "read", &[("200", "receivers")])},
        "/api/v2/silences": {
            "get": with(op("Silences", "read", &[("200", "gettableSilences")]), vec![query("filter", "matcher, repeatable")]),
            "post": op("Create or update a silence", "respond", &[("200", "{silenceID}"), ("400", "invalid silence"), ("404", "no silence with that id")])},
        "/api/v2/silence/{id}": {
            "get": with(op("One silence", "read", &[("200", "gettableSilence"), ("404", "no such silence")]), vec![id("silence id")]),
            "delete": with(op("Expire a silence now", "respond", &[("200", "expired"), ("400", "already expired"), ("404", "no such silence")]), vec![id("silence id")])},
        "/api/v1/integrations/alertmanager": {"post": op("An Alertmanager's webhook notification (payload version 4)", "ingest", &[("200", "accepted"), ("400", "invalid payload")])},
        "/v2/enqueue": {"post": {"summary": "PagerDuty Events API v2 (trigger, acknowledge, resolve)",
            "description": "The routing key in the body authenticates: it must be one of the config's integrations.",
            "responses": {"202": {"description": "{status, message, dedup_key}"}, "400": {"description": "{status, message, errors}"}, "429": {"description": "throttled"}}}},
        "/api/v1/users": {"get": op("Users (contact methods without their secrets)", "read", &[("200", "users")])},
        "/api/v1/users/{id}/calendar.ics": {"get": with(op("A user's on-call shifts as iCalendar", "read", &[("200", "text/calendar"), ("404", "no such user")]), vec![id("user id")])},
        "/api/v1/users/{id}/calendar-key": {"post": with(op("A new subscription URL for the user's calendar feed; the previous one stops working", "respond", &[("200", "{feed, url}"), ("404", "no such user")]), vec![id("user id")])},
        "/api/v1/schedules/{id}/calendar-key": {"post": with(op("A new subscription URL for the schedule's calendar feed; the previous one stops working", "respond", &[("200", "{feed, url}"), ("404", "no such schedule")]), vec![id("schedule id")])},
        "/calendars/{key}/feed.ics": {"get": {"summary": "A calendar feed by its subscription key (calendar apps cannot send headers)",
            "description": "No token: the key in the path reads this one feed only.",
            "parameters": [path_param("key", "the feed's key, from POST …/calendar-key")],
            "responses": {"200": {"description": "text/calendar"}, "404": {"description": "unknown or rotated key"}, "429": {"description": "too many wrong keys from this address"}}}},
        "/api/v1/teams": {"get": op("Teams", "read", &[("200", "teams")])},
        "/api/v1/schedules": {"get": op("Schedules with who is on call now", "read", &[("200", "schedules")])},
        "/api/v1/schedules/{id}/oncall": {"get": with(op("Who is on call at an instant", "read", &[("200", "who, from which layer or override, since, until"), ("400", "bad at"), ("404", "no such schedule")]), vec![id("schedule id"), query("at", "RFC 3339 (default now)")])},
        "/api/v1/schedules/{id}/shifts": {"get": with(op("The final schedule over a range", "read", &[("200", "shifts"), ("400", "bad range"), ("404", "no such schedule")]), vec![id("schedule id"), query("from", "RFC 3339"), query("to", "RFC 3339")])},
        "/api/v1/schedules/{id}/overrides": {"post": with(op("Add an override: someone covers a range", "respond", &[("201", "the override"), ("400", "bad body"), ("404", "no such schedule or user")]), vec![id("schedule id")])},
        "/api/v1/schedules/{id}/calendar.ics": {"get": with(op("A schedule's shifts as iCalendar", "read", &[("200", "text/calendar"), ("404", "no such schedule")]), vec![id("schedule id")])},
        "/api/v1/overrides/{id}": {"delete": with(op("Remove an override added through the API", "respond", &[("204", "removed"), ("404", "no such override"), ("409", "defined in the config")]), vec![id("override id")])},
        "/api/v1/escalations": {"get": with(op("Open escalations", "read", &[("200", "escalations")]), vec![query("open", "true")])},
        "/api/v1/escalations/{id}": {"get": with(op("One escalation with its pages", "read", &[("200", "escalation"), ("404", "no such escalation")]), vec![id("escalation id")])},
        "/api/v1/escalations/{id}/ack": {"post": with(op("Acknowledge: stop paging", "respond", &[("200", "escalation"), ("404", "no such escalation"), ("409", "already resolved")]), vec![id("escalation id")])},
        "/api/v1/escalations/{id}/resolve": {"post": with(op("Resolve: end the escalation", "respond", &[("200", "escalation"), ("404", "no such escalation")]), vec![id("escalation id")])},
        "/ack/{token}": {"get": link("Confirm page of a signed acknowledge link", confirm),
            "post": link("Acknowledge through a signed link from a page", "acknowledged (HTML)")},
        "/resolve/{token}": {"get": link("Confirm page of a signed resolve link", confirm),
            "post": link("Resolve through a signed link from a page", "resolved (HTML)")},
        "/api/v1/incidents": {
            "get": with(op("Incidents, newest first", "read", &[("200", "incidents"), ("400", "bad range")]), vec![query("status", "open|all"), query("from", "RFC 3339"), query("to", "RFC 3339")]),
            "post": op("Declare an incident", "respond", &[("201", "the incident"), ("400", "bad body")])},
        "/api/v1/incidents/metrics": {"get": with(op("MTTA and MTTR over a range", "read", &[("200", "metrics"), ("400", "bad range")]), vec![query("from", "RFC 3339"), query("to", "RFC 3339"), query("service", "only this service"), query("team", "only this team's services")])},
        "/api/v1/incidents/{id}": {"get": with(op("One incident with its timeline", "read", &[("200", "the incident"), ("404", "no such incident")]), vec![id("incident id")])},
        "/api/v1/incidents/{id}/acknowledge": {"post": inc("Acknowledge")},
        "/api/v1/incidents/{id}/status": {"post": inc("Move the status (triggered → … → resolved)")},
        "/api/v1/incidents/{id}/severity": {"post": inc("Change the severity (SEV1–SEV4)")},
        "/api/v1/incidents/{id}/roles": {"post": inc("Assign a role (commander, communications, scribe)")},
        "/api/v1/incidents/{id}/notes": {"post": inc("Add a note to the timeline")},
        "/api/v1/incidents/{id}/resolve": {"post": inc("Resolve")},
        "/api/v1/incidents/{id}/impact-start": {"post": inc("Set when the impact started")},
        "/api/v1/incidents/{id}/action-items": {"post": inc("Add an action item")},
        "/api/v1/incidents/{id}/action-items/{n}": {"patch": with(op("Update an action item", "respond", &[("200", "the incident"), ("404", "no such incident or item")]), vec![id("incident id"), path_param("n", "action item number")])},
        "/api/v1/incidents/{id}/postmortem": {"get": with(op("The postmortem draft (text/markdown)", "read", &[("200", "Markdown"), ("404", "no such incident")]), vec![id("incident id")])},
    })
}
