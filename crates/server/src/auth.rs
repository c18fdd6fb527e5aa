//! Bearer tokens with scopes (read, ingest, respond, admin); only their hashes are stored (see
//! headroom-store).
//!
//! [`Auth`] is an extractor reading only the request's head, and every handler takes it before
//! its body: a request without the right token is refused before a byte of its body is read.
//! Wrong credentials are counted per client address (`FailedAuth`): past the limit, that
//! address gets 429 without its token being looked at.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use headroom_store::{Scope, TokenInfo, TokenStore};

use crate::error::ApiError;
use crate::state::AppState;

/// The scope an endpoint needs, as a type so that it shows in the handler's signature.
pub trait Needs: Send + Sync + 'static {
    const SCOPE: Scope;
}

/// Marker types for [`Auth`].
pub mod scope {
    use super::{Needs, Scope};
    macro_rules! scopes {
        ($($name:ident),*) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl Needs for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*};
    }
    scopes!(Read, Ingest, Respond, Admin);
}

/// A request authenticated for scope `S`. `actor` is the token's name and `scope` its own scope
/// (which may be wider than `S`); both `None` for an anonymous read (allowed when the config
/// sets `anonymous_read`).
#[derive(Debug)]
pub struct Auth<S> {
    pub actor: Option<String>,
    pub scope: Option<Scope>,
    _scope: PhantomData<S>,
}

impl<S> Auth<S> {
    /// Who acts, for timelines: the token's name, or `anonymous`.
    pub fn actor(&self) -> String {
        self.actor
            .clone()
            .unwrap_or_else(|| "anonymous".to_string())
    }
}

/// The client's address, when the listener recorded it (`None` for in-process requests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

impl<S: Needs> FromRequestParts<AppState> for Auth<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddr(client) = ClientAddr::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientAddr(None));
        let token = authenticate(state, &parts.headers, client, S::SCOPE).await?;
        Ok(Auth {
            actor: token.as_ref().map(|t| t.name.clone()),
            scope: token.map(|t| t.scope),
            _scope: PhantomData,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer(value: &HeaderValue) -> Option<&str> {
    let v = value.to_str().ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(str::trim)
}

/// Checks that the headers carry a token allowing `required`; returns the token, `None` for an
/// anonymous read.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    required: Scope,
) -> Result<Option<TokenInfo>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        if required == Scope::Read && state.anonymous_read() {
            return Ok(None);
        }
        return Err(ApiError::unauthorized(format!(
            "this endpoint needs a token with scope {required}: send Authorization: Bearer <token>"
        )));
    };
    let now = state.now();
    state.failed_auth.check(client, now)?;
    let Some(token) = bearer(value) else {
        state.failed_auth.record(client, now);
        return Err(ApiError::unauthorized(
            "Authorization must be \"Bearer <token>\"",
        ));
    };
    let Some(info) = state.store.verify_token(token, now).await? else {
        state.failed_auth.record(client, now);
        return Err(ApiError::unauthorized("unknown or revoked token"));
    };
    if info.scope.allows(required) {
        Ok(Some(info))
    } else {
        Err(ApiError::forbidden(format!(
            "token {:?} has scope {}, this endpoint needs {required}",
            info.name, info.scope
        )))
    }
}

/// Each scope's sentence in the OpenAPI document: clients read it, and the scope tests parse it.
pub mod needs {
    pub const READ: &str = "Needs a token with scope `read`.";
    pub const INGEST: &str = "Needs a token with scope `ingest`.";
    pub const RESPOND: &str = "Needs a token with scope `respond`.";
    pub const ADMIN: &str = "Needs a token with scope `admin`.";
}
