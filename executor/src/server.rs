//! Assembles and runs the servers: gRPC (`executor.Executor`, `executor.MatchReporter`, `grpc.health.v1.Health`
//! and server reflection) on one listener, and the HTTP endpoint on another; drains on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use proto::pb::executor_server::ExecutorServer;
use proto::pb::match_reporter_server::MatchReporterServer;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

use crate::agent_sources::AgentSources;
use crate::backend::Backend;
use crate::blob_store::BlobStore;
use crate::config::{ConnectionArgs, ExecutorArgs};
use crate::connections::{ActivityLayer, ConnectionLimits, Connections, Health, HttpListener};
use crate::error::{Error, Result};
use crate::matches::Matches;
use crate::metrics::Metrics;
use crate::recorder::Recorder;
use crate::replay_spool::SpoolSettings;
use crate::replay_store::ReplayStore;
use crate::reporter::{ReportHub, ReporterService};
use crate::result_store::ResultStore;
use crate::service::ExecutorService;
use crate::validate::{MAX_ZIP_BYTES, Validator};

/// Largest request or report message accepted (agent archives for validation are the big ones).
const MAX_MESSAGE_BYTES: usize = MAX_ZIP_BYTES + 1024 * 1024;
/// Time open connections get to close after the drain before the server stops anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a server needs besides its settings.
#[derive(Debug)]
pub struct Listeners {
    pub grpc: TcpListener,
    /// `None` runs without the HTTP endpoint.
    pub http: Option<TcpListener>,
    /// Time running matches get to finish once shutdown starts.
    pub drain_grace: Duration,
    /// Limits on both listeners' connections.
    pub connections: ConnectionArgs,
}

/// Serves until `shutdown` resolves, then drains: reports NOT_SERVING, takes no new matches, cancels queued
/// ones, lets running ones finish within the grace period, cancels the rest, and stops.
pub async fn run(
    listeners: Listeners,
    settings: ExecutorArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    settings.check()?;
    let sources = AgentSources::resolve(&settings).await?;
    let local = listeners
        .grpc
        .local_addr()
        .map_err(Error::io("reading the listening address"))?;
    let replay_token = match &settings.replay_token_file {
        Some(path) => Some(crate::http::load_replay_token(path).await?),
        None => None,
    };
    let hub = ReportHub::new();
    let metrics = Arc::new(Metrics::new());
    let blobs = match &settings.store_url {
        Some(url) => BlobStore::open(url)?,
        None => BlobStore::local(&settings.data_dir)?,
    };
    let replays = ReplayStore::new(
        blobs.clone(),
        settings.replay_base_url.clone(),
        settings.replay_gzip,
    );
    let recorder = Arc::new(Recorder::new(
        replays,
        ResultStore::new(blobs),
        Arc::clone(&metrics),
        settings.max_replay_bytes,
    ));
    let spool = SpoolSettings {
        dir: fresh_dir(&settings.data_dir.join("spool")).await?,
        cap: settings.report_replay_cap(),
    };
    let backend = Backend::start(&settings, &sources, &hub, report_url(local), &recorder).await?;
    let sink = backend.report_sink();
    let validator = Arc::new(Validator::new(
        backend.tools().clone(),
        settings.agent_limits.clone(),
    ));
    let budget = crate::connections::fd_budget(
        listeners.connections.max_grpc_connections,
        listeners.connections.max_http_connections,
        settings.max_concurrent_matches,
    );
    let limits = |max| ConnectionLimits {
        max,
        first_request: Duration::from_millis(
            listeners.connections.connection_first_request_timeout_ms,
        ),
        idle: Duration::from_millis(listeners.connections.connection_idle_timeout_ms),
    };
    tracing::info!(
        open_file_limit = budget.soft_limit,
        max_grpc_connections = budget.grpc_max,
        max_http_connections = budget.http_max,
        "connection limits"
    );
    let grpc_connections = Connections::new("grpc", limits(budget.grpc_max), Arc::clone(&metrics));
    let http_connections = Connections::new("http", limits(budget.http_max), Arc::clone(&metrics));
    let matches = Matches::new(settings, sources, backend, recorder, Arc::clone(&metrics));

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ExecutorServer<ExecutorService>>()
        .await;
    health
        .set_serving::<MatchReporterServer<ReporterService>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection service: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| Error::Internal(format!("reflection service: {e}")))?;

    let executor = ExecutorServer::new(ExecutorService::new(
        Arc::clone(&matches),
        validator,
        Arc::clone(&metrics),
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let mut reporter_service = ReporterService::new(hub, metrics);
    if let Some(sink) = sink {
        reporter_service = reporter_service.with_sink(sink, spool);
    }
    let reporter =
        MatchReporterServer::new(reporter_service).max_decoding_message_size(MAX_MESSAGE_BYTES);

    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
    let drain = {
        let matches = Arc::clone(&matches);
        let grace = listeners.drain_grace;
        async move {
            shutdown.await;
            tracing::info!(
                grace_sec = grace.as_secs(),
                "shutting down: no new matches; draining"
            );
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            health
                .set_not_serving::<ExecutorServer<ExecutorService>>()
                .await;
            health
                .set_not_serving::<MatchReporterServer<ReporterService>>()
                .await;
            matches.drain(grace).await;
            tracing::info!("drained");
            let _ = stopped_tx.send(true);
        }
    };

    let http = match listeners.http {
        Some(listener) => {
            let addr = listener
                .local_addr()
                .map_err(Error::io("reading the http address"))?;
            tracing::info!(addr = %addr, "http listening");
            let mut stopped = stopped_rx.clone();
            let app = crate::http::router(Arc::clone(&matches), replay_token)
                .layer(ActivityLayer(Health::Http))
                .into_make_service_with_connect_info::<crate::connections::Conn>();
            let listener = HttpListener {
                listener,
                connections: http_connections,
            };
            Some(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            }))
        }
        None => None,
    };

    tracing::info!(addr = %local, "executor listening");
    let incoming = grpc_connections.incoming(listeners.grpc);
    let serve = tonic::transport::Server::builder()
        .layer(ActivityLayer(Health::Grpc))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(executor)
        .add_service(reporter)
        .serve_with_incoming_shutdown(incoming, drain);
    // Clients that keep idle connections open (or stop reading) must not keep a drained executor alive.
    let mut drained = stopped_rx.clone();
    let close_deadline = async move {
        let _ = drained.wait_for(|s| *s).await;
        tokio::time::sleep(CLOSE_GRACE).await;
    };
    let grpc = tokio::select! {
        served = serve => served.map_err(|e| Error::Internal(format!("grpc server: {e}"))),
        () = close_deadline => {
            tracing::info!("closing connections that did not finish on their own");
            Ok(())
        }
    };
    if let Some(mut http) = http {
        match tokio::time::timeout(CLOSE_GRACE, &mut http).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "http server failed"),
            Ok(Err(e)) => tracing::error!(error = %e, "http server task failed"),
            Err(_) => http.abort(),
        }
    }
    grpc
}

/// An empty directory at `path` (what a previous run left there is removed), as an absolute path.
async fn fresh_dir(path: &std::path::Path) -> Result<std::path::PathBuf> {
    let path =
        std::path::absolute(path).map_err(Error::io(format!("resolving {}", path.display())))?;
    match tokio::fs::remove_dir_all(&path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("emptying {}", path.display()))(e)),
    }
    tokio::fs::create_dir_all(&path)
        .await
        .map_err(Error::io(format!("creating {}", path.display())))?;
    Ok(path)
}

/// Where local orchestrators reach this server: a wildcard listen address is reached over loopback.
fn report_url(local: SocketAddr) -> String {
    let host = match local {
        SocketAddr::V4(a) if a.ip().is_unspecified() => "127.0.0.1".to_string(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => "[::1]".to_string(),
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    format!("http://{host}:{}", local.port())
}
