//! SMTP through lettre: one pooled transport per smarthost and login, kept across deliveries.
//! STARTTLS when `require_tls` (implicit TLS on port 465), AUTH PLAIN or LOGIN, EHLO with the
//! configured `hello`. Reply codes decide the outcome: 4xx is transient, 5xx permanent.

use std::collections::HashMap;
use std::error::Error as _;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransport, Error as SmtpError};
use lettre::{AsyncTransport, Tokio1Executor};

use crate::config::Email;
use crate::send::{Client, Outcome};

/// The port of SMTP over implicit TLS (RFC 8314).
const SUBMISSIONS_PORT: u16 = 465;

/// What a connection is opened with: deliveries that agree on all of it share one pool.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Route {
    host: String,
    port: u16,
    require_tls: bool,
    hello: String,
    login: Option<(String, String)>,
}

impl Route {
    fn of(email: &Email) -> Route {
        Route {
            host: email.smarthost.host.clone(),
            port: email.smarthost.port,
            require_tls: email.require_tls,
            hello: email.hello.clone(),
            login: email.auth_username.as_ref().map(|user| {
                (
                    user.clone(),
                    email.auth_password.clone().unwrap_or_default(),
                )
            }),
        }
    }

    fn tls(&self) -> bool {
        self.require_tls || self.port == SUBMISSIONS_PORT
    }
}

/// The SMTP transports of one [`Client`], each with its pool of open connections.
pub(crate) struct Transports {
    /// Trusted besides the web PKI roots (DER).
    extra_roots: Vec<Vec<u8>>,
    by_route: Mutex<HashMap<Route, AsyncSmtpTransport<Tokio1Executor>>>,
}

impl fmt::Debug for Transports {
    /// Routes carry passwords: only their number is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes = self.by_route.lock().map_or(0, |r| r.len());
        f.debug_struct("Transports")
            .field("extra_roots", &self.extra_roots.len())
            .field("routes", &routes)
            .finish()
    }
}

impl Drop for Transports {
    fn drop(&mut self) {
        // lettre's pool hands its open connections to the tokio runtime to close when dropped,
        // and there may be none here (the last client dropped outside one): a short-lived one
        // takes them, and closes them by dropping them.
        if tokio::runtime::Handle::try_current().is_err()
            && let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build()
        {
            let _inside = runtime.enter();
            if let Ok(routes) = self.by_route.get_mut() {
                routes.clear();
            }
        }
    }
}

impl Transports {
    /// Checks the extra roots once, so a bad one fails building the client rather than a send.
    pub(crate) fn new(extra_roots: Vec<Vec<u8>>) -> Result<Transports, String> {
        let transports = Transports {
            extra_roots,
            by_route: Mutex::default(),
        };
        transports.tls_parameters("localhost")?;
        Ok(transports)
    }

    fn tls_parameters(&self, host: &str) -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(host.to_string())
            .certificate_store(CertificateStore::WebpkiRoots);
        for der in &self.extra_roots {
            let root = Certificate::from_der(der.clone()).map_err(|e| describe(&e))?;
            builder = builder.add_root_certificate(root);
        }
        builder.build_rustls().map_err(|e| describe(&e))
    }

    /// The route's transport, built on first use. Must run inside the tokio runtime: the pool
    /// spawns its idle-connection reaper there.
    fn transport(
        &self,
        route: &Route,
        client: &Client,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let mut routes = self.by_route.lock().expect("SMTP transports lock");
        if let Some(t) = routes.get(route) {
            return Ok(t.clone());
        }
        let tls = if route.port == SUBMISSIONS_PORT {
            Tls::Wrapper(self.tls_parameters(&route.host)?)
        } else if route.require_tls {
            Tls::Required(self.tls_parameters(&route.host)?)
        } else {
            Tls::None
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&route.host)
            .port(route.port)
            .tls(tls)
            .hello_name(ClientId::Domain(route.hello.clone()))
            .timeout(Some(client.timeout));
        if let Some((user, password)) = &route.login {
            builder = builder
                .credentials(Credentials::new(user.clone(), password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        let transport = builder.build();
        routes.insert(route.clone(), transport.clone());
        Ok(transport)
    }

    /// Forgets the route's pool, so a connection left mid-conversation is not reused.
    fn evict(&self, route: &Route) {
        self.by_route
            .lock()
            .expect("SMTP transports lock")
            .remove(route);
    }
}

/// Sends `message` to its envelope's recipients through `email`'s smarthost, within the
/// client's timeout.
pub(crate) async fn send(email: &Email, message: &lettre::Message, client: &Client) -> Outcome {
    let route = Route::of(email);
    if route.login.is_some() && !route.tls() && !is_loopback(&route.host) {
        return Outcome::Failed {
            reason: "SMTP: refusing to send credentials without TLS (require_tls is false)".into(),
        };
    }
    let transport = match client.smtp.transport(&route, client) {
        Ok(t) => t,
        Err(reason) => {
            return Outcome::Failed {
                reason: format!("SMTP: {reason}"),
            };
        }
    };
    let data = message.formatted();
    let sent = tokio::time::timeout(
        client.timeout,
        transport.send_raw(message.envelope(), &data),
    )
    .await;
    match sent {
        Ok(Ok(_)) => {
            // lettre parks the connection from a task of its own: let it run, so the next
            // delivery finds the connection in the pool.
            tokio::task::yield_now().await;
            Outcome::Delivered
        }
        Ok(Err(e)) => outcome(&e, client),
        Err(_) => {
            client.smtp.evict(&route);
            timed_out(client)
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn timed_out(client: &Client) -> Outcome {
    Outcome::Retry {
        reason: format!("SMTP timed out after {:?}", client.timeout),
        after: None,
    }
}

/// Transient replies and lost or refused connections are retried; permanent replies, TLS
/// failures and what the server cannot do (no STARTTLS, no usable AUTH) are final.
fn outcome(e: &SmtpError, client: &Client) -> Outcome {
    if e.is_timeout() {
        return timed_out(client);
    }
    let reason = format!("SMTP: {}", describe(e));
    if e.is_permanent() || is_tls(e) || e.is_client() {
        Outcome::Failed { reason }
    } else {
        Outcome::Retry {
            reason,
            after: None,
        }
    }
}

/// lettre reports a failed STARTTLS handshake as a connection error; rustls's verdict (a
/// certificate not trusted, a name not matching) travels as an `InvalidData` IO error.
fn is_tls(e: &SmtpError) -> bool {
    e.is_tls()
        || causes(e).any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
        })
}

fn causes(e: &SmtpError) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |&c| c.source())
}

/// The error in the server's words where it gave some, else its root cause.
fn describe(e: &SmtpError) -> String {
    let root = causes(e)
        .last()
        .map_or_else(|| e.to_string(), |c| c.to_string());
    match e.status() {
        Some(code) => format!("server replied {code} {root}"),
        None if is_tls(e) => format!("TLS: {root}"),
        None if e.is_client() => root,
        None if e.is_response() => format!("malformed reply: {root}"),
        None => format!("connection: {root}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in ["localhost", "127.0.0.1", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["mail.example.com", "10.0.0.1"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn routes_differ_by_everything_a_connection_is_opened_with() {
        let email: Email = serde_json::from_value(serde_json::json!({
            "to": "a@example.com", "from": "b@example.com", "smarthost": "mail:587",
            "auth_username": "u", "auth_password": "p"
        }))
        .unwrap();
        let base = Route::of(&email);
        assert!(base.tls());
        let mut other = email.clone();
        other.auth_password = Some("q".into());
        assert!(Route::of(&other) != base);
        let mut other = email.clone();
        other.hello = "h".into();
        assert!(Route::of(&other) != base);
        let mut other = email.clone();
        other.require_tls = false;
        assert!(!Route::of(&other).tls());
        other.smarthost.port = SUBMISSIONS_PORT;
        assert!(Route::of(&other).tls(), "port 465 is TLS from the start");
        let mut same = email.clone();
        same.to = "c@example.com".into();
        assert!(Route::of(&same) == base, "recipients share a connection");
    }
}
