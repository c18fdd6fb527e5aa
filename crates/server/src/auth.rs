//! Bearer tokens with scopes (read, ingest, respond, admin); only their hashes are stored (see
//! headroom-store).
//!
//! [`Auth`] is an extractor reading only the request's head, and every handler takes it before
//! its body: a request without the right token is refused before a byte of its body is read.
//! Wrong credentials are counted per client address ([`FailedAuth`]): past the limit, that
//! address gets 429 without its token being looked at.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use headroom_core::{Span, Timestamp};
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
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
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

/// Wrong credentials per client address, in fixed windows: an address that sent
/// [`FailedAuth::LIMIT`] wrong tokens within [`FailedAuth::WINDOW`] is refused until the window
/// ends. Bounded: at most [`FailedAuth::MAX_CLIENTS`] addresses are tracked; when full, the
/// expired windows are dropped, and if none has expired new addresses share one slot, so a
/// flood of addresses limits itself rather than growing memory.
#[derive(Debug, Default)]
pub struct FailedAuth {
    windows: Mutex<HashMap<Option<IpAddr>, (Timestamp, u32)>>,
}

impl FailedAuth {
    pub const LIMIT: u32 = 20;
    pub const WINDOW: Span = Span::MINUTE;
    pub const MAX_CLIENTS: usize = 10_000;

    pub fn check(&self, client: Option<IpAddr>, now: Timestamp) -> Result<(), ApiError> {
        let windows = self.windows.lock().expect("failed-auth lock");
        let key = Self::key(&windows, client);
        match windows.get(&key) {
            Some(&(start, n)) if n >= Self::LIMIT && now < start + Self::WINDOW => {
                let retry = ((start + Self::WINDOW - now).millis() + 999) / 1000;
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!(
                        "{} wrong credentials from this address within {}s: retry in {retry}s",
                        Self::LIMIT,
                        Self::WINDOW.millis() / 1000
                    ),
                );
                e.retry_after = Some(retry as u64);
                Err(e)
            }
            _ => Ok(()),
        }
    }

    pub fn record(&self, client: Option<IpAddr>, now: Timestamp) {
        let mut windows = self.windows.lock().expect("failed-auth lock");
        if windows.len() >= Self::MAX_CLIENTS && !windows.contains_key(&client) {
            windows.retain(|_, (start, _)| now < *start + Self::WINDOW);
        }
        let key = Self::key(&windows, client);
        let entry = windows.entry(key).or_insert((now, 0));
        if now >= entry.0 + Self::WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// The slot of `client`: its own, or the shared one when the table is full.
    fn key(
        windows: &HashMap<Option<IpAddr>, (Timestamp, u32)>,
        client: Option<IpAddr>,
    ) -> Option<IpAddr> {
        if windows.len() >= Self::MAX_CLIENTS && !windows.contains_key(&client) {
            None
        } else {
            client
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn an_address_is_refused_after_the_limit_until_its_window_ends() {
        let f = FailedAuth::default();
        let t0 = Timestamp(1_000_000);
        for _ in 0..FailedAuth::LIMIT {
            assert!(f.check(ip(1), t0).is_ok());
            f.record(ip(1), t0);
        }
        let refused = f.check(ip(1), t0 + Span::seconds(1)).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(59));
        assert!(
            f.check(ip(2), t0).is_ok(),
            "another address is not affected"
        );
        assert!(f.check(ip(1), t0 + FailedAuth::WINDOW).is_ok());
        f.record(ip(1), t0 + FailedAuth::WINDOW);
        assert!(
            f.check(ip(1), t0 + FailedAuth::WINDOW).is_ok(),
            "a new window starts counting from one"
        );
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_addresses() {
        let f = FailedAuth::default();
        let t0 = Timestamp(0);
        for i in 0..(FailedAuth::MAX_CLIENTS as u32 + 500) {
            f.record(Some(IpAddr::from(i.to_be_bytes())), t0);
        }
        assert_eq!(f.windows.lock().unwrap().len(), FailedAuth::MAX_CLIENTS + 1);
        // Once the windows expire, new addresses get their own slots again.
        f.record(ip(7), t0 + FailedAuth::WINDOW);
        assert!(f.windows.lock().unwrap().contains_key(&ip(7)));
    }
}
