//! The `executor.Executor` gRPC handlers: thin wrappers that validate, call the [`Core`], and map errors to
//! status codes.

use std::sync::Arc;

use proto::outcome::MatchStatus;
use proto::pb;
use tonic::{Request, Response, Status};

use crate::admission::Admission;
use crate::backend::local::LocalBackend;
use crate::config::ExecutorArgs;
use crate::error::{Error, Result};
use crate::replay_store::ReplayStore;
use crate::request::{self, MatchPlan};
use crate::validate;

/// The executor's shared state: settings, admission, backend and replay store.
#[derive(Debug)]
pub struct Core {
    pub settings: ExecutorArgs,
    pub admission: Arc<Admission>,
    pub backend: LocalBackend,
    pub store: ReplayStore,
}

impl Core {
    /// Validates, admits and plays a match. The match runs in its own task, so a client that goes away does
    /// not cut it short.
    pub async fn run_match(self: &Arc<Self>, req: &pb::MatchRequest) -> Result<pb::MatchResponse> {
        let plan = request::plan(req, &self.settings)?;
        let ticket = self.admission.admit(&plan.match_id).await?;
        let core = Arc::clone(self);
        tokio::spawn(async move {
            let _ticket = ticket;
            core.play(plan).await
        })
        .await
        .map_err(|e| Error::Internal(format!("match task failed: {e}")))
    }

    #[tracing::instrument(skip_all, fields(match_id = %plan.match_id, environment = %plan.environment))]
    async fn play(&self, plan: MatchPlan) -> pb::MatchResponse {
        tracing::info!(
            seed = plan.seed,
            agents = plan.agents.len(),
            "match admitted"
        );
        let run = self.backend.run(&plan).await;
        let mut response = run.outcome.to_response();
        if let Some(replay) = run.replay {
            match self.store.put(&plan.match_id, &replay) {
                Ok(stored) => {
                    response.replay_url = stored.json_url;
                    response.replay_html_url = stored.html_url;
                    response.replay_sha256 = stored.sha256;
                }
                Err(e) => {
                    tracing::error!(error = %e, "storing the replay failed");
                    if run.outcome.status == MatchStatus::Success {
                        response.error_message = format!("replay not stored: {e}");
                    }
                }
            }
        }
        tracing::info!(
            status = ?run.outcome.status,
            winner = run.outcome.winner.as_deref().unwrap_or(""),
            steps = response.total_steps,
            seconds = response.execution_time_sec,
            "match finished"
        );
        response
    }
}

/// `executor.Executor` over a [`Core`].
#[derive(Debug, Clone)]
pub struct ExecutorService {
    core: Arc<Core>,
}

impl ExecutorService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

#[tonic::async_trait]
impl pb::executor_server::Executor for ExecutorService {
    async fn run_match(
        &self,
        request: Request<pb::MatchRequest>,
    ) -> Result<Response<pb::MatchResponse>, Status> {
        let req = request.into_inner();
        match self.core.run_match(&req).await {
            Ok(response) => Ok(Response::new(response)),
            Err(e) => {
                tracing::info!(match_id = %req.match_id, error = %e, "match request refused");
                Err(e.into())
            }
        }
    }

    async fn validate_agent(
        &self,
        request: Request<pb::ValidationRequest>,
    ) -> Result<Response<pb::ValidationResponse>, Status> {
        let report = validate::validate(&request.into_inner(), &self.core).await?;
        Ok(Response::new(report))
    }

    async fn health_check(
        &self,
        _request: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckResponse>, Status> {
        let admission = &self.core.admission;
        Ok(Response::new(pb::HealthCheckResponse {
            healthy: !admission.is_closed(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            active_matches: u32::try_from(admission.running()).unwrap_or(u32::MAX),
        }))
    }
}
