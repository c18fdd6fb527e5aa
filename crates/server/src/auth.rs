//! Bearer tokens with scopes: read, ingest, admin. Only hashes are stored (see headroom-store).

use axum::http::HeaderMap;
use headroom_store::{Scope, TokenStore};

use crate::error::ApiError;
use crate::state::AppState;

/// Checks that the request carries a token allowing `required`. Reads pass without a token when
/// the config sets `anonymous_read`.
pub async fn require(
    state: &AppState,
    headers: &HeaderMap,
    required: Scope,
) -> Result<(), ApiError> {
    require_named(state, headers, required).await.map(drop)
}

/// As [`require`], and says who asked: the token's name, `None` for an anonymous read. Writes
/// that record an actor (incident timelines) use it.
pub async fn require_named(
    state: &AppState,
    headers: &HeaderMap,
    required: Scope,
) -> Result<Option<String>, ApiError> {
    let token = match headers.get(axum::http::header::AUTHORIZATION) {
        None if required == Scope::Read && state.anonymous_read() => return Ok(None),
        None => {
            return Err(ApiError::unauthorized(format!(
                "this endpoint needs a token with scope {required}: send Authorization: Bearer <token>"
            )));
        }
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("Authorization must be \"Bearer <token>\""))?,
    };
    let info = state
        .store
        .verify_token(token, state.now())
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
    if info.scope.allows(required) {
        Ok(Some(info.name))
    } else {
        Err(ApiError::forbidden(format!(
            "token {:?} has scope {}, this endpoint needs {required}",
            info.name, info.scope
        )))
    }
}
