//! The shutdown signal of every long-running binary: a future that resolves on the first SIGTERM or SIGINT.

use std::future::Future;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Listens for SIGTERM and SIGINT from this call on (a signal that comes before the future is first polled
/// still counts), and resolves on the first of them, logging which. A signal that cannot be listened for is
/// left out, and a warning says so. Must be called inside a Tokio runtime.
pub fn listen() -> impl Future<Output = ()> {
    let term = listener(SignalKind::terminate(), "SIGTERM");
    let interrupt = listener(SignalKind::interrupt(), "SIGINT");
    async move {
        tokio::select! {
            () = received(term) => tracing::info!("received SIGTERM"),
            () = received(interrupt) => tracing::info!("received SIGINT"),
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT after it is first polled (see [`listen`]).
pub async fn shutdown() {
    listen().await;
}

fn listener(kind: SignalKind, name: &str) -> Option<Signal> {
    signal(kind)
        .inspect_err(
            |error| tracing::warn!(%error, signal = name, "cannot listen for a shutdown signal"),
        )
        .ok()
}

async fn received(signal: Option<Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
