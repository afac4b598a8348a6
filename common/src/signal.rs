//! The shutdown signal of every long-running binary: a future that resolves on the first SIGTERM or SIGINT.

use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGTERM or SIGINT, logging which. Where SIGTERM cannot be listened for, only SIGINT
/// counts, and a warning says so.
pub async fn shutdown() {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM"),
                _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT shuts down");
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("received SIGINT");
        }
    }
}
