//! Assembles and runs the gRPC server: `executor.Executor` and `executor.MatchReporter` on one listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use proto::pb::executor_server::ExecutorServer;
use proto::pb::match_reporter_server::MatchReporterServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::admission::Admission;
use crate::backend::local::LocalBackend;
use crate::config::ExecutorArgs;
use crate::error::{Error, Result};
use crate::replay_store::ReplayStore;
use crate::reporter::{ReportHub, ReporterService};
use crate::service::{Core, ExecutorService};
use crate::validate::MAX_ZIP_BYTES;

/// Largest request or report message accepted (agent archives for validation are the big ones).
const MAX_MESSAGE_BYTES: usize = MAX_ZIP_BYTES + 1024 * 1024;

/// Serves until `shutdown` resolves, then stops taking new matches and lets running ones finish.
pub async fn run(
    listener: TcpListener,
    settings: ExecutorArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(Error::io("reading the listening address"))?;
    let hub = ReportHub::new();
    let backend = LocalBackend::new(&settings, Arc::clone(&hub), report_url(local))?;
    let store = ReplayStore::open(
        &settings.data_dir.join("replays"),
        settings.replay_base_url.clone(),
    )?;
    let admission = Admission::new(
        settings.max_concurrent_matches.max(1),
        settings.max_queued_matches,
    );
    let core = Arc::new(Core {
        settings,
        admission: Arc::clone(&admission),
        backend,
        store,
    });
    tracing::info!(addr = %local, "executor listening");
    let executor = ExecutorServer::new(ExecutorService::new(core))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let reporter = MatchReporterServer::new(ReporterService::new(hub))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let drain = async move {
        shutdown.await;
        tracing::info!("shutting down: no new matches; waiting for running ones");
        admission.close();
    };
    tonic::transport::Server::builder()
        .add_service(executor)
        .add_service(reporter)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), drain)
        .await
        .map_err(|e| Error::Internal(format!("grpc server: {e}")))
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

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
    }
}
