//! The layer both servers wrap their routes in: it counts each request on its connection for as long as its
//! response is being sent (a connection with a request in flight is never idle, however long the request
//! lasts), and answers anything but a health check on a connection of the health reserve with "unavailable".

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::BodyExt;

use super::{Conn, RequestGuard};

/// Which requests are health checks, by server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// `executor.Executor/HealthCheck` and `grpc.health.v1.Health`.
    Grpc,
    /// `/healthz` and `/readyz`.
    Http,
}

impl Health {
    fn is_health_check(self, path: &str) -> bool {
        match self {
            Self::Grpc => {
                path == "/executor.Executor/HealthCheck"
                    || path.starts_with("/grpc.health.v1.Health/")
            }
            Self::Http => path == "/healthz" || path == "/readyz",
        }
    }
}

/// Wraps a server's routes in [`Activity`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActivityLayer(pub(crate) Health);

impl<S> tower::Layer<S> for ActivityLayer {
    type Service = Activity<S>;

    fn layer(&self, inner: S) -> Activity<S> {
        Activity {
            inner,
            health: self.0,
        }
    }
}

/// Counts requests on their connections; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Activity<S> {
    inner: S,
    health: Health,
}

/// A response body that can carry a request's guard, and the answer of a connection that may not serve.
pub(crate) trait GuardedBody: Sized + Send + 'static {
    /// The body, keeping `guard` until it is dropped.
    fn guarded(self, guard: RequestGuard) -> Self;
    /// The answer to a request other than a health check on a connection of the health reserve.
    fn refused() -> http::Response<Self>;
}

/// What a refused request is told.
const REFUSED: &str = "the executor is at its connection limit: this connection answers health checks only; \
                       retry in a few seconds";

impl GuardedBody for tonic::body::Body {
    fn guarded(self, guard: RequestGuard) -> Self {
        Self::new(self.map_frame(move |frame| {
            let _held = &guard;
            frame
        }))
    }

    fn refused() -> http::Response<Self> {
        tonic::Status::unavailable(REFUSED).into_http()
    }
}

impl GuardedBody for axum::body::Body {
    fn guarded(self, guard: RequestGuard) -> Self {
        Self::new(self.map_frame(move |frame| {
            let _held = &guard;
            frame
        }))
    }

    fn refused() -> http::Response<Self> {
        let mut response = http::Response::new(Self::from(format!("{REFUSED}\n")));
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        response
    }
}

/// The connection a request came on: tonic adds it as is, axum as `ConnectInfo`.
fn conn_of<B>(request: &http::Request<B>) -> Option<Conn> {
    let extensions = request.extensions();
    extensions.get::<Conn>().cloned().or_else(|| {
        extensions
            .get::<axum::extract::ConnectInfo<Conn>>()
            .map(|info| info.0.clone())
    })
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for Activity<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: GuardedBody,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let Some(conn) = conn_of(&request) else {
            return Box::pin(self.inner.call(request));
        };
        if conn.health_only() && !self.health.is_health_check(request.uri().path()) {
            return Box::pin(std::future::ready(Ok(ResBody::refused())));
        }
        let guard = conn.request();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| body.guarded(guard)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Health;

    #[test]
    fn health_checks_by_server() {
        let cases = [
            (Health::Grpc, "/executor.Executor/HealthCheck", true),
            (Health::Grpc, "/grpc.health.v1.Health/Check", true),
            (Health::Grpc, "/grpc.health.v1.Health/Watch", true),
            (Health::Grpc, "/executor.Executor/RunMatch", false),
            (Health::Grpc, "/healthz", false),
            (Health::Http, "/healthz", true),
            (Health::Http, "/readyz", true),
            (Health::Http, "/metrics", false),
            (Health::Http, "/replays/m.json", false),
        ];
        for (health, path, want) in cases {
            assert_eq!(health.is_health_check(path), want, "{health:?} {path}");
        }
    }
}
