//! The `executor.Executor` gRPC handlers: thin wrappers that turn wire requests into domain calls on
//! [`Matches`] and [`Validator`], domain answers into wire messages, and errors into status codes.

use std::sync::Arc;

use proto::pb::{self, match_update::Update};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::error::Error;
use crate::info::MatchResult;
use crate::live::LiveEvent;
use crate::matches::{Handle, Matches};
use crate::metrics::Metrics;
use crate::request::Submission;
use crate::validate::Validator;

/// Updates buffered per watcher before its producer waits (the match itself never waits).
const WATCH_BUFFER: usize = 64;

/// `executor.Executor` over [`Matches`].
#[derive(Debug, Clone)]
pub(crate) struct ExecutorService {
    matches: Arc<Matches>,
    validator: Arc<Validator>,
    metrics: Arc<Metrics>,
}

impl ExecutorService {
    pub(crate) fn new(
        matches: Arc<Matches>,
        validator: Arc<Validator>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            matches,
            validator,
            metrics,
        }
    }

    /// Submits a request: the match it creates, or the one it names already. Refusals are counted and logged.
    async fn submit(&self, req: pb::MatchRequest) -> Result<Handle, Status> {
        let match_id = req.match_id.clone();
        let submitted = match Submission::new(req) {
            Ok(submission) => self.matches.submit(submission).await,
            Err(e) => Err(e),
        };
        submitted.map_err(|e| {
            self.metrics.rejected(match e {
                Error::InvalidArgument(_) => "invalid_argument",
                Error::Conflict(_) => "conflict",
                Error::Exhausted { .. } => "exhausted",
                Error::ShuttingDown => "shutting_down",
                _ => "internal",
            });
            tracing::info!(match_id, error = %e, "request refused");
            e.into()
        })
    }

    /// A match's state on the wire, with the Kubernetes Job that plays it.
    fn wire_info(&self, info: &crate::info::MatchInfo) -> pb::MatchInfo {
        pb::MatchInfo {
            job_name: self.matches.job_name(&info.match_id).unwrap_or_default(),
            ..pb::MatchInfo::from(info)
        }
    }
}

#[tonic::async_trait]
impl pb::executor_server::Executor for ExecutorService {
    async fn run_match(
        &self,
        request: Request<pb::MatchRequest>,
    ) -> Result<Response<pb::MatchResponse>, Status> {
        let result = self.submit(request.into_inner()).await?.result().await?;
        Ok(Response::new(pb::MatchResponse::from(&result)))
    }

    async fn validate_agent(
        &self,
        request: Request<pb::ValidationRequest>,
    ) -> Result<Response<pb::ValidationResponse>, Status> {
        let req = request.into_inner();
        // Validation runs submitted code: it takes a match's slot (and its place in the queue).
        let _slot = self.matches.validation_slot().await?;
        let report = self
            .validator
            .validate(req.code_zip, &req.environment)
            .await?;
        Ok(Response::new(pb::ValidationResponse {
            valid: report.errors.is_empty(),
            errors: report.errors,
            warnings: report.warnings,
        }))
    }

    async fn health_check(
        &self,
        _request: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckResponse>, Status> {
        Ok(Response::new(pb::HealthCheckResponse {
            healthy: self.matches.accepting(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            active_matches: u32::try_from(self.matches.running()).unwrap_or(u32::MAX),
        }))
    }

    async fn submit_match(
        &self,
        request: Request<pb::MatchRequest>,
    ) -> Result<Response<pb::MatchInfo>, Status> {
        let handle = self.submit(request.into_inner()).await?;
        Ok(Response::new(pb::MatchInfo::from(&handle.info())))
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
        let match_id = request.into_inner().match_id;
        let handle = self.matches.get(&match_id).await?;
        Ok(Response::new(self.wire_info(&handle.info())))
    }

    async fn cancel_match(
        &self,
        request: Request<pb::CancelMatchRequest>,
    ) -> Result<Response<pb::MatchInfo>, Status> {
        let info = self.matches.cancel(&request.into_inner().match_id).await?;
        Ok(Response::new(self.wire_info(&info)))
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
    let finished = |result: &MatchResult| update(Update::Finished(pb::MatchResponse::from(result)));
    let live = match handle {
        Handle::Finished(stored) => {
            let info = pb::MatchInfo::from(&stored.info());
            if tx.send(update(Update::Snapshot(info))).await.is_ok() {
                let _ = tx.send(finished(&stored.result)).await;
            }
            return;
        }
        Handle::Live(live) => live,
        // Followed by another replica: no live frames here, but the state now and the result when recorded.
        Handle::Elsewhere(info) => {
            let info = pb::MatchInfo::from(&*info);
            if tx.send(update(Update::Snapshot(info))).await.is_err() {
                return;
            }
            match matches.result_elsewhere(&match_id).await {
                Ok(Some(stored)) => {
                    let _ = tx.send(finished(&stored.result)).await;
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
    if tx
        .send(update(Update::Snapshot(pb::MatchInfo::from(&info))))
        .await
        .is_err()
    {
        return;
    }
    if let Some(result) = done {
        let _ = tx.send(finished(&result)).await;
        return;
    }
    loop {
        match events.recv().await {
            Ok(event) => {
                let last = matches!(event, LiveEvent::Finished(_));
                if tx
                    .send(Ok(convert::update(&live.match_id, event)))
                    .await
                    .is_err()
                    || last
                {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::debug!(match_id = %match_id, skipped, "slow watcher skipped updates");
            }
            Err(broadcast::error::RecvError::Closed) => {
                let _ = tx.send(finished(&live.finished().await)).await;
                return;
            }
        }
    }
}
