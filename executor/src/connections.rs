//! The connections of both listeners (gRPC and HTTP), kept within limits whatever clients do:
//!
//! - at most `max` connections at once. At the cap, a new connection takes the place of the oldest one that
//!   has not sent a request, else of the one idle the longest; when every connection has a request in flight,
//!   it joins a small reserve that answers only health checks (`HealthCheck`, `grpc.health.v1`, `/healthz`,
//!   `/readyz`), so that health still answers at the cap; past the reserve it is closed at once;
//! - a connection whose first request has not arrived within `first_request` is closed (a handshake that never
//!   ends, a request trickled byte by byte), and so is one with no request in flight for `idle`;
//! - an accept that fails (no file descriptor left) waits before the next one instead of spinning, and at
//!   start the soft limit of open files is raised to the hard one and the caps kept below it
//!   ([`fd_budget`]).
//!
//! A connection is closed by failing its reads and writes, which ends the server's task for it and drops
//! the socket. Requests are seen by the `activity` layer, which both servers wrap their routes in.

mod activity;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::metrics::Metrics;

pub(crate) use activity::{ActivityLayer, Health};

/// Connections beyond the cap that answer health checks only.
pub(crate) const HEALTH_RESERVE: usize = 16;
/// Open files kept for everything but connections: the executor's own files, and per running match its helper
/// processes' pipes and logs.
const FILES_BASE: u64 = 256;
const FILES_PER_MATCH: u64 = 16;
/// How often connections are checked against their timeouts.
const REAP_EVERY: Duration = Duration::from_millis(250);
/// The longest wait after a failed accept.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The limits of one listener's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionLimits {
    pub(crate) max: usize,
    pub(crate) first_request: Duration,
    pub(crate) idle: Duration,
}

/// One listener's connections.
#[derive(Debug)]
pub(crate) struct Connections {
    /// `grpc` or `http`, for logs and metrics.
    listener: &'static str,
    limits: ConnectionLimits,
    /// Open connections by id; ids grow, so the first entries are the oldest.
    open: Mutex<BTreeMap<u64, Conn>>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
}

/// What is known of one connection; shared by its socket, its requests and the listener.
#[derive(Debug)]
struct ConnState {
    id: u64,
    opened: Instant,
    /// Admitted past the cap: only health checks are answered.
    health_only: bool,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// When the last request ended, in milliseconds after `opened`.
    idle_since_ms: AtomicU64,
    closed: AtomicBool,
    reader: AtomicWaker,
    writer: AtomicWaker,
}

/// A handle on a connection: what its requests carry (as the server's connection info) to be counted.
#[derive(Debug, Clone)]
pub(crate) struct Conn(Arc<ConnState>);

/// A connection's socket, closed when the listener says so (its reads and writes then fail).
#[derive(Debug)]
pub(crate) struct Guarded {
    io: TcpStream,
    conn: Conn,
    connections: Weak<Connections>,
}

/// The raise of the open-file limit at start, and the connection caps that fit under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FdBudget {
    pub(crate) soft_limit: u64,
    pub(crate) grpc_max: usize,
    pub(crate) http_max: usize,
}

/// Raises the soft limit of open files to the hard limit (where it can) and fits the two caps under it,
/// leaving room for the health reserves and for `matches` running matches.
pub(crate) fn fd_budget(grpc_max: usize, http_max: usize, matches: usize) -> FdBudget {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let soft_limit = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit");
            1024
        }
    };
    let budget = fit(soft_limit, grpc_max, http_max, matches);
    if (budget.grpc_max, budget.http_max) != (grpc_max, http_max) {
        tracing::warn!(
            open_file_limit = soft_limit,
            grpc_max = budget.grpc_max,
            http_max = budget.http_max,
            "the connection caps do not fit the open-file limit; lowered"
        );
    }
    budget
}

/// The caps within `soft_limit` open files, lowered in proportion when they do not fit.
fn fit(soft_limit: u64, grpc_max: usize, http_max: usize, matches: usize) -> FdBudget {
    let others = FILES_BASE + FILES_PER_MATCH * matches as u64 + 2 * HEALTH_RESERVE as u64;
    let room = usize::try_from(soft_limit.saturating_sub(others)).unwrap_or(usize::MAX);
    let wanted = grpc_max.saturating_add(http_max);
    let (grpc_max, http_max) = if wanted <= room {
        (grpc_max, http_max)
    } else {
        let share = |cap: usize| (cap as u128 * room as u128 / wanted as u128) as usize;
        (share(grpc_max).max(1), share(http_max).max(1))
    };
    FdBudget {
        soft_limit,
        grpc_max,
        http_max,
    }
}

impl Connections {
    /// The connections of `listener` (`grpc` or `http`) under `limits`; a task closes those past their
    /// timeouts for as long as they exist.
    pub(crate) fn new(
        listener: &'static str,
        limits: ConnectionLimits,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let connections = Arc::new(Self {
            listener,
            limits,
            open: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            metrics,
        });
        tokio::spawn(reap(Arc::downgrade(&connections)));
        connections
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Conn>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections open now.
    #[cfg(test)]
    fn count(&self) -> usize {
        self.lock().len()
    }

    /// The next connection within the limits, with TCP_NODELAY (without it a reply's trailers wait behind the
    /// client's delayed ACK, about 40 ms on Linux).
    pub(crate) async fn accept(self: &Arc<Self>, listener: &TcpListener) -> (Guarded, SocketAddr) {
        let mut backoff = Duration::from_millis(10);
        loop {
            let (io, addr) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait for some to be freed instead of spinning.
                    tracing::warn!(listener = self.listener, error = %e, backoff_ms = backoff.as_millis() as u64,
                        "accepting a connection failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            };
            backoff = Duration::from_millis(10);
            if let Err(e) = io.set_nodelay(true) {
                tracing::debug!(error = %e, "setting TCP_NODELAY failed");
            }
            match self.admit() {
                Some(conn) => {
                    self.metrics.connections(self.listener, 1);
                    let guarded = Guarded {
                        io,
                        conn,
                        connections: Arc::downgrade(self),
                    };
                    return (guarded, addr);
                }
                None => self.metrics.connection_closed(self.listener, "refused"),
            }
        }
    }

    /// Makes room for a new connection and registers it; `None` when there is none, even in the reserve.
    fn admit(&self) -> Option<Conn> {
        let mut open = self.lock();
        let reserved = open.values().filter(|c| c.0.health_only).count();
        let health_only = if open.len() - reserved < self.limits.max {
            false
        } else if let Some(id) = evictable(&open) {
            if let Some(evicted) = open.remove(&id) {
                evicted.close();
                self.metrics.connection_closed(self.listener, "evicted");
            }
            false
        } else if reserved < HEALTH_RESERVE {
            true
        } else {
            return None;
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Conn(Arc::new(ConnState {
            id,
            opened: Instant::now(),
            health_only,
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            reader: AtomicWaker::new(),
            writer: AtomicWaker::new(),
        }));
        open.insert(id, conn.clone());
        Some(conn)
    }

    /// Closes the connections past their timeouts.
    fn reap_once(&self) {
        let now = Instant::now();
        let mut open = self.lock();
        let expired: Vec<(u64, &'static str)> = open
            .values()
            .filter_map(|conn| conn.expired(now, &self.limits).map(|why| (conn.0.id, why)))
            .collect();
        for (id, why) in expired {
            if let Some(conn) = open.remove(&id) {
                conn.close();
                self.metrics.connection_closed(self.listener, why);
            }
        }
    }

    /// Forgets a connection whose socket is gone.
    fn forget(&self, id: u64) {
        self.lock().remove(&id);
        self.metrics.connections(self.listener, -1);
    }

    /// The connections as a stream of sockets, for the gRPC server.
    pub(crate) fn incoming(
        self: Arc<Self>,
        listener: TcpListener,
    ) -> impl futures_util::Stream<Item = Result<Guarded, std::convert::Infallible>> {
        futures_util::stream::unfold((self, listener), |(connections, listener)| async move {
            let (guarded, _) = connections.accept(&listener).await;
            Some((Ok(guarded), (connections, listener)))
        })
    }
}

/// The connection to make room with: the oldest that has not sent a request, else the one idle the longest.
fn evictable(open: &BTreeMap<u64, Conn>) -> Option<u64> {
    let silent = open
        .values()
        .find(|c| !c.0.health_only && c.0.requests.load(Ordering::Acquire) == 0);
    if let Some(conn) = silent {
        return Some(conn.0.id);
    }
    open.values()
        .filter(|c| !c.0.health_only && c.0.in_flight.load(Ordering::Acquire) == 0)
        .min_by_key(|c| c.idle_since())
        .map(|c| c.0.id)
}

/// Closes connections past their timeouts until the listener's connections are gone.
async fn reap(connections: Weak<Connections>) {
    let mut every = tokio::time::interval(REAP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match connections.upgrade() {
            Some(connections) => connections.reap_once(),
            None => return,
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

impl Conn {
    /// Whether only health checks are answered on this connection.
    pub(crate) fn health_only(&self) -> bool {
        self.0.health_only
    }

    /// Counts a request until the returned guard is dropped (when its response is done).
    pub(crate) fn request(&self) -> RequestGuard {
        self.0.requests.fetch_add(1, Ordering::AcqRel);
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard(self.clone())
    }

    /// When the connection was last without a request in flight.
    fn idle_since(&self) -> Instant {
        self.0.opened + Duration::from_millis(self.0.idle_since_ms.load(Ordering::Acquire))
    }

    /// Why the connection is past its limits at `now`, if it is.
    fn expired(&self, now: Instant, limits: &ConnectionLimits) -> Option<&'static str> {
        let state = &self.0;
        if state.requests.load(Ordering::Acquire) == 0 {
            return (now.saturating_duration_since(state.opened) > limits.first_request)
                .then_some("first_request_timeout");
        }
        (state.in_flight.load(Ordering::Acquire) == 0
            && now.saturating_duration_since(self.idle_since()) > limits.idle)
            .then_some("idle_timeout")
    }

    /// Fails the connection's reads and writes from now on, and wakes them.
    fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.reader.wake();
        self.0.writer.wake();
    }
}

/// A request in flight on a connection; its end when dropped.
#[derive(Debug)]
pub(crate) struct RequestGuard(Conn);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let state = &(self.0).0;
        let idle = Instant::now().saturating_duration_since(state.opened);
        state.idle_since_ms.store(
            u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
        state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Guarded {
    pub(crate) fn conn(&self) -> &Conn {
        &self.conn
    }

    fn closed(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "connection closed by the executor's connection limits",
        )
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(connections) = self.connections.upgrade() {
            connections.forget(self.conn.0.id);
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.conn.0.reader.register(cx.waker());
        if self.conn.0.closed.load(Ordering::Acquire) {
            return Poll::Ready(Err(self.closed()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.conn.0.writer.register(cx.waker());
        if self.conn.0.closed.load(Ordering::Acquire) {
            return Poll::Ready(Err(self.closed()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.0.writer.register(cx.waker());
        if self.conn.0.closed.load(Ordering::Acquire) {
            return Poll::Ready(Err(self.closed()));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Guarded {
    type ConnectInfo = Conn;

    fn connect_info(&self) -> Conn {
        self.conn.clone()
    }
}

/// The HTTP listener within its connections' limits, for `axum::serve`; the address of a connection is its
/// [`Conn`], which its requests carry as connection info.
#[derive(Debug)]
pub(crate) struct HttpListener {
    pub(crate) listener: TcpListener,
    pub(crate) connections: Arc<Connections>,
}

impl axum::serve::Listener for HttpListener {
    type Io = Guarded;
    type Addr = Conn;

    async fn accept(&mut self) -> (Guarded, Conn) {
        let (guarded, _) = self.connections.accept(&self.listener).await;
        let conn = guarded.conn().clone();
        (guarded, conn)
    }

    fn local_addr(&self) -> io::Result<Conn> {
        Err(io::Error::other(
            "the HTTP listener's connections have no address of their own",
        ))
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, HttpListener>>
    for Conn
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, HttpListener>) -> Self {
        stream.remote_addr().clone()
    }
}

#[cfg(test)]
mod tests;
