//! The accept loop of `headroom serve`: every connection is bounded in number and in time, so
//! slow or silent clients cannot pile up (a connection with half-sent headers used to stay open
//! for minutes, and thousands of them all stayed open).
//!
//! A connection moves between three phases, each with its own limit:
//! - **reading a head**: from accept (after the TLS handshake) or from the first byte after an idle
//!   spell, until the request line and headers are complete: `header_timeout`, then the
//!   connection is closed without an answer (the request never arrived);
//! - **busy**: from a complete head until the response is produced, reading the body included:
//!   `request_timeout`, then a 408 with `Connection: close`;
//! - **idle**: keep-alive with nothing in flight: `idle_timeout`, then closed.
//!
//! The header and idle limits are kept apart here, as Go's `ReadHeaderTimeout` and `IdleTimeout`
//! are, rather than with hyper's `header_read_timeout`: hyper arms that timer as soon as a
//! keep-alive connection goes idle, so it would close every idle connection at the header limit.
//!
//! At most `max_connections` are open at once. A slot is taken before `accept`, so when all are in
//! use new connections wait in the kernel's accept backlog (as Prometheus's
//! `--web.max-connections` does): a client is served as soon as a slot frees, instead of being
//! refused into a retry storm, and its header clock starts only when it is accepted. When the
//! backlog itself is full, the kernel drops new SYNs and clients retry on their own schedule.
//!
//! Shutdown stops accepting, lets requests in flight finish and closes idle connections, and cuts
//! whatever is left after `shutdown_grace`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::error::ApiError;

/// How many connections `headroom serve` holds open, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to finish the TLS handshake, and time to send a request's line and headers.
    pub header_timeout: Duration,
    /// Time to send the request body and for headroom to produce the response.
    pub request_timeout: Duration,
    /// How long a keep-alive connection may wait with no request in flight.
    pub idle_timeout: Duration,
    /// Open connections at most; more wait in the accept backlog.
    pub max_connections: NonZeroUsize,
    /// After the shutdown signal, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl ConnectionLimits {
    /// The defaults, as a constant for the CLI's flag defaults.
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        header_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        max_connections: NonZeroUsize::new(4096).unwrap(),
        // Leaves room for the final snapshot within a 30 s termination grace (Kubernetes's).
        shutdown_grace: Duration::from_secs(10),
    };
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits::DEFAULT
    }
}

/// Serves `app` on `tcp` (HTTPS when `tls` is given) within `limits` until `shutdown` completes,
/// then drains as described in the module documentation. Each request carries
/// `ConnectInfo<SocketAddr>`, the peer's address.
pub async fn serve(
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.get()));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Finished connections are reaped here so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = accept(&tcp, &slots) => accepted,
        };
        let (stream, peer, slot) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::error!(error = %e, "cannot accept connections");
                // Most likely out of file descriptors: give open connections time to close.
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            app: app.clone(),
            peer,
            limits,
            stopping: stopping.clone(),
        };
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => conn.run(stream).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake not done in time"),
                    }
                }
                None => conn.run(stream).await,
            }
            drop(slot);
        });
    }
    drop(tcp);
    let _ = stop.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "letting open connections finish");
    }
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
}

/// An accepted connection, its peer and its slot.
type Accepted = (TcpStream, SocketAddr, OwnedSemaphorePermit);

/// Waits for a free slot, then for a connection; the slot stays with the connection.
async fn accept(tcp: &TcpListener, slots: &Arc<Semaphore>) -> io::Result<Accepted> {
    let slot = slots.clone().acquire_owned().await.expect("never closed");
    loop {
        match tcp.accept().await {
            Ok((stream, peer)) => return Ok((stream, peer, slot)),
            // The client gave up before it was accepted: nothing to do but take the next one.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// One accepted connection.
struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
}

/// Why a connection was closed by its phase's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Header,
    Idle,
}

impl Connection {
    async fn run<S>(mut self, io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let mut phase = activity.phase.subscribe();
        let service = RequestService {
            app: self.app,
            peer: self.peer,
            request_timeout: self.limits.request_timeout,
            activity: activity.clone(),
        };
        let watched = Watched {
            io,
            activity: activity.clone(),
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        // The head's clock is kept here (see the module documentation).
        http.header_read_timeout(None);
        let conn = http.serve_connection(TokioIo::new(watched), service);
        tokio::pin!(conn);
        // Once told to finish (idle or shutting down), the connection only completes what it has.
        let mut finishing = false;
        loop {
            let due = phase.borrow_and_update().due(&self.limits);
            let clock = async {
                match due {
                    Some((at, cut)) if !(finishing && cut == Cut::Idle) => {
                        tokio::time::sleep_until(at).await;
                        cut
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                done = conn.as_mut() => {
                    if let Err(e) = done {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended");
                    }
                    return;
                }
                _ = phase.changed() => {}
                cut = clock => match cut {
                    Cut::Header => {
                        tracing::debug!(peer = %self.peer, "closing: request headers not received in time");
                        return;
                    }
                    Cut::Idle => {
                        finishing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                },
                Ok(()) = stop_requested(&mut self.stopping), if !finishing => {
                    finishing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Completes once shutdown has begun (an error if `serve` is gone).
async fn stop_requested(
    stopping: &mut watch::Receiver<bool>,
) -> Result<(), watch::error::RecvError> {
    stopping.wait_for(|stop| *stop).await.map(|_| ())
}

/// Where a connection stands, as its clocks see it.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// A request's head is arriving (or awaited on a fresh connection) since then.
    Head(Instant),
    /// This many requests are being read and answered.
    Busy(usize),
    /// Nothing in flight, nothing arriving, since then.
    Idle(Instant),
}

impl Phase {
    fn due(self, limits: &ConnectionLimits) -> Option<(Instant, Cut)> {
        match self {
            Phase::Head(since) => Some((since + limits.header_timeout, Cut::Header)),
            Phase::Busy(_) => None,
            Phase::Idle(since) => Some((since + limits.idle_timeout, Cut::Idle)),
        }
    }
}

/// A connection's phase, moved by its reads and its requests.
struct Activity {
    phase: watch::Sender<Phase>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: watch::Sender::new(Phase::Head(Instant::now())),
        }
    }

    /// Bytes arrived: after an idle spell, they start the next request's head.
    fn received(&self) {
        self.phase.send_if_modified(|p| match p {
            Phase::Idle(_) => {
                *p = Phase::Head(Instant::now());
                true
            }
            _ => false,
        });
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.phase.send_modify(|p| {
            *p = match *p {
                Phase::Busy(n) => Phase::Busy(n + 1),
                _ => Phase::Busy(1),
            }
        });
        InFlight(self.clone())
    }
}

/// A request being read and answered; the connection is idle again when the last one drops.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.phase.send_modify(|p| {
            *p = match *p {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Idle(Instant::now()),
            }
        });
    }
}

/// The router behind one connection: adds the peer's address and the request's time limit.
#[derive(Clone)]
struct RequestService {
    app: Router,
    peer: SocketAddr,
    request_timeout: Duration,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = self.activity.begin();
        let (app, limit, peer) = (self.app.clone(), self.request_timeout, self.peer);
        Box::pin(async move {
            // Extractors read the body inside this future, so the limit covers a trickled body
            // as well as a slow handler; dropping the future drops the body.
            let answer = match tokio::time::timeout(limit, app.oneshot(req.map(Body::new))).await {
                Ok(Ok(resp)) => resp,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    tracing::debug!(%peer, "request not read and answered in time");
                    request_timed_out(limit)
                }
            };
            drop(in_flight);
            Ok(answer)
        })
    }
}

/// The 408 for a request over its time; the connection closes after it, since the rest of the
/// request body may still be on its way.
fn request_timed_out(limit: Duration) -> Response<Body> {
    let mut resp = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request was not sent and answered within {}",
            headroom_core::Span(limit.as_millis() as i64)
        ),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The connection's stream, telling its activity when bytes arrive.
struct Watched<S> {
    io: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
