//! The `executor.Executor` gRPC handlers: thin wrappers that call [`Matches`] and map errors to status codes.

use std::sync::Arc;

use proto::pb::{self, match_update::Update};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::matches::{Handle, Matches};
use crate::validate;

/// Updates buffered per watcher before its producer waits (the match itself never waits).
const WATCH_BUFFER: usize = 64;

/// `executor.Executor` over [`Matches`].
#[derive(Debug, Clone)]
pub struct ExecutorService {
    matches: Arc<Matches>,
}

impl ExecutorService {
    pub fn new(matches: Arc<Matches>) -> Self {
        Self { matches }
    }
}

fn log_refusal(match_id: &str, e: crate::Error) -> Status {
    tracing::info!(match_id, error = %e, "request refused");
    e.into()
}

#[tonic::async_trait]
impl pb::executor_server::Executor for ExecutorService {
    async fn run_match(
        &self,
        request: Request<pb::MatchRequest>,
    ) -> Result<Response<pb::MatchResponse>, Status> {
        let req = request.into_inner();
        let response = self
            .matches
            .run(&req)
            .await
            .map_err(|e| log_refusal(&req.match_id, e))?;
        Ok(Response::new(response))
    }

    async fn validate_agent(
        &self,
        request: Request<pb::ValidationRequest>,
    ) -> Result<Response<pb::ValidationResponse>, Status> {
        let report = validate::validate(&request.into_inner(), &self.matches).await?;
        Ok(Response::new(report))
    }

    async fn health_check(
        &self,
        _request: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckResponse>, Status> {
        let admission = &self.matches.admission;
        Ok(Response::new(pb::HealthCheckResponse {
            healthy: !admission.is_closed(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            active_matches: u32::try_from(admission.running()).unwrap_or(u32::MAX),
        }))
    }

    async fn submit_match(
        &self,
        request: Request<pb::MatchRequest>,
    ) -> Result<Response<pb::MatchInfo>, Status> {
        let req = request.into_inner();
        let handle = self
            .matches
            .submit(&req)
            .await
            .map_err(|e| log_refusal(&req.match_id, e))?;
        Ok(Response::new(handle.info()))
    }

    type WatchMatchStream = ReceiverStream<Result<pb::MatchUpdate, Status>>;

    async fn watch_match(
        &self,
        request: Request<pb::WatchMatchRequest>,
    ) -> Result<Response<Self::WatchMatchStream>, Status> {
        let match_id = request.into_inner().match_id;
        let handle = self.matches.get(&match_id).await?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        tokio::spawn(feed_watcher(
            Arc::clone(&self.matches),
            match_id,
            handle,
            tx,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_match(
        &self,
        request: Request<pb::GetMatchRequest>,
    ) -> Result<Response<pb::MatchInfo>, Status> {
        let handle = self.matches.get(&request.into_inner().match_id).await?;
        Ok(Response::new(handle.info()))
    }

    async fn cancel_match(
        &self,
        request: Request<pb::CancelMatchRequest>,
    ) -> Result<Response<pb::MatchInfo>, Status> {
        let info = self.matches.cancel(&request.into_inner().match_id).await?;
        Ok(Response::new(info))
    }

    async fn list_environments(
        &self,
        _request: Request<pb::ListEnvironmentsRequest>,
    ) -> Result<Response<pb::ListEnvironmentsResponse>, Status> {
        Ok(Response::new(crate::environments::list()))
    }
}

/// Sends a watcher the match's current state, then its live updates, and last its result. A watcher that
/// falls behind skips frames; one that leaves stops its feed.
async fn feed_watcher(
    matches: Arc<Matches>,
    match_id: String,
    handle: Handle,
    tx: mpsc::Sender<Result<pb::MatchUpdate, Status>>,
) {
    let update = |u: Update| {
        Ok(pb::MatchUpdate {
            match_id: match_id.clone(),
            update: Some(u),
        })
    };
    let live = match handle {
        Handle::Finished(stored) => {
            let info = stored.info();
            if tx.send(update(Update::Snapshot(info))).await.is_ok() {
                if let Some(result) = stored.response {
                    let _ = tx.send(update(Update::Finished(result))).await;
                }
            }
            return;
        }
        Handle::Live(live) => live,
        // Followed by another replica: no live frames here, but the state now and the result when recorded.
        Handle::Elsewhere(info) => {
            if tx.send(update(Update::Snapshot(*info))).await.is_err() {
                return;
            }
            match matches.result_elsewhere(&match_id).await {
                Ok(Some(stored)) => {
                    if let Some(result) = stored.response {
                        let _ = tx.send(update(Update::Finished(result))).await;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                }
            }
            return;
        }
    };
    let mut events = live.subscribe();
    let info = live.info();
    let done = info.result.clone();
    if tx.send(update(Update::Snapshot(info))).await.is_err() {
        return;
    }
    if let Some(result) = done {
        let _ = tx.send(update(Update::Finished(result))).await;
        return;
    }
    loop {
        match events.recv().await {
            Ok(event) => {
                let last = matches!(event.update, Some(Update::Finished(_)));
                if tx.send(Ok(event)).await.is_err() || last {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::debug!(match_id = %match_id, skipped, "slow watcher skipped updates");
            }
            Err(broadcast::error::RecvError::Closed) => {
                let _ = tx
                    .send(update(Update::Finished(live.finished().await)))
                    .await;
                return;
            }
        }
    }
}
