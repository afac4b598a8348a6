//! The life of matches: submission (validation, idempotency on `match_id`, admission), the task that plays
//! each match, storing its replay and result, lookup, cancellation and draining.
//!
//! A match id names one request forever: the same request again attaches to the live match or returns the
//! stored result; a different request with the same id is a conflict.

use std::collections::HashMap;
use std::sync::Arc;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::pb;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

use crate::admission::{Admission, Reservation};
use crate::backend::{Backend, failed_outcome};
use crate::config::ExecutorArgs;
use crate::error::{Error, Result};
use crate::live::LiveMatch;
use crate::metrics::Metrics;
use crate::replay_store::ReplayStore;
use crate::request::{self, MatchPlan};
use crate::result_store::{ResultStore, StoredMatch};

/// A match found by id.
#[derive(Debug, Clone)]
pub enum Handle {
    Live(Arc<LiveMatch>),
    Finished(Box<StoredMatch>),
    /// A match whose Job runs in the cluster while another replica (or none) follows it.
    Elsewhere(Box<pb::MatchInfo>),
}

impl Handle {
    pub fn info(&self) -> pb::MatchInfo {
        match self {
            Self::Live(live) => live.info(),
            Self::Finished(stored) => stored.info(),
            Self::Elsewhere(info) => (**info).clone(),
        }
    }
}

/// The executor's matches and everything needed to play them.
#[derive(Debug)]
pub struct Matches {
    pub settings: ExecutorArgs,
    pub admission: Arc<Admission>,
    pub backend: Backend,
    pub replays: ReplayStore,
    pub results: ResultStore,
    pub metrics: Arc<Metrics>,
    live: Mutex<HashMap<String, Arc<LiveMatch>>>,
    /// Number of live matches, for draining.
    live_count: watch::Sender<usize>,
}

impl Matches {
    pub fn new(
        settings: ExecutorArgs,
        backend: Backend,
        replays: ReplayStore,
        results: ResultStore,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let admission = Admission::new(
            settings.max_concurrent_matches.max(1),
            settings.max_queued_matches,
        );
        Arc::new(Self {
            settings,
            admission,
            backend,
            replays,
            results,
            metrics,
            live: Mutex::new(HashMap::new()),
            live_count: watch::channel(0).0,
        })
    }

    /// Validates and queues a match, or finds the one this request already created.
    pub async fn submit(self: &Arc<Self>, req: &pb::MatchRequest) -> Result<Handle> {
        let outcome = self.try_submit(req).await;
        if let Err(e) = &outcome {
            self.metrics.rejected(match e {
                Error::InvalidArgument(_) => "invalid_argument",
                Error::Conflict(_) => "conflict",
                Error::Exhausted { .. } => "exhausted",
                Error::ShuttingDown => "shutting_down",
                _ => "internal",
            });
        }
        outcome
    }

    async fn try_submit(self: &Arc<Self>, req: &pb::MatchRequest) -> Result<Handle> {
        request::check_match_id(&req.match_id)?;
        let fingerprint = fingerprint(req);
        let mut live = self.live.lock().await;
        if let Some(existing) = live.get(&req.match_id) {
            return same_request(
                &existing.fingerprint,
                &fingerprint,
                &req.match_id,
                "running",
            )
            .map(|()| Handle::Live(Arc::clone(existing)));
        }
        if let Some(stored) = self.results.get(&req.match_id).await? {
            return same_request(&stored.fingerprint, &fingerprint, &req.match_id, "finished")
                .map(|()| Handle::Finished(Box::new(stored)));
        }
        let plan = request::plan(req, &self.settings)?;
        let reservation = self.admission.reserve()?;
        let entry = Arc::new(LiveMatch::new(
            plan.match_id.clone(),
            fingerprint,
            plan.environment.clone(),
            plan.agents.iter().map(|a| a.agent_id.clone()).collect(),
        ));
        live.insert(plan.match_id.clone(), Arc::clone(&entry));
        self.live_count.send_replace(live.len());
        drop(live);
        if let Some(k8s) = self.backend.kubernetes() {
            // The Job is created (or found) now, so a different request with a taken id is refused here.
            if let Err(e) = k8s.create_or_attach(&plan, &entry.fingerprint).await {
                let mut live = self.live.lock().await;
                live.remove(&plan.match_id);
                self.live_count.send_replace(live.len());
                return Err(e);
            }
        }
        tokio::spawn(Arc::clone(self).drive(Arc::clone(&entry), plan, reservation));
        Ok(Handle::Live(entry))
    }

    /// Submits a match and waits for its result.
    pub async fn run(self: &Arc<Self>, req: &pb::MatchRequest) -> Result<pb::MatchResponse> {
        match self.submit(req).await? {
            Handle::Live(live) => Ok(live.finished().await),
            Handle::Finished(stored) => stored.response.ok_or_else(|| {
                Error::Store(format!("stored result of match {} is empty", req.match_id))
            }),
            // Submitting attaches to an existing Job as a live match; it never hands back this variant.
            Handle::Elsewhere(info) => Err(Error::Internal(format!(
                "match {} is followed elsewhere; ask GetMatch",
                info.match_id
            ))),
        }
    }

    /// Finds a match by id.
    pub async fn get(&self, match_id: &str) -> Result<Handle> {
        request::check_match_id(match_id)?;
        if let Some(live) = self.live.lock().await.get(match_id) {
            return Ok(Handle::Live(Arc::clone(live)));
        }
        if let Some(stored) = self.results.get(match_id).await? {
            return Ok(Handle::Finished(Box::new(stored)));
        }
        match self
            .backend
            .kubernetes()
            .and_then(|k8s| k8s.info_elsewhere(match_id))
        {
            Some(info) => Ok(Handle::Elsewhere(Box::new(info))),
            None => Err(Error::NotFound(format!(
                "no match with match_id {match_id:?}; submit it with SubmitMatch or RunMatch first"
            ))),
        }
    }

    /// Waits for the result of a match followed elsewhere (see [`Handle::Elsewhere`]).
    pub async fn result_elsewhere(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        match self.backend.kubernetes() {
            Some(k8s) => k8s.result_elsewhere(match_id).await,
            None => Ok(None),
        }
    }

    /// Cancels a queued or running match and returns its final state; a finished match is returned as is.
    pub async fn cancel(&self, match_id: &str) -> Result<pb::MatchInfo> {
        let handle = match (self.get(match_id).await, self.backend.kubernetes()) {
            // A match waited for on another replica (or on none) is cancelled through its Job.
            (Ok(Handle::Elsewhere(_)), Some(k8s)) => {
                return k8s.cancel_elsewhere(match_id).await?.ok_or_else(|| {
                    Error::NotFound(format!(
                        "match {match_id:?} ended before it could be cancelled"
                    ))
                });
            }
            (Err(Error::NotFound(message)), Some(k8s)) => {
                return k8s
                    .cancel_elsewhere(match_id)
                    .await?
                    .ok_or(Error::NotFound(message));
            }
            (handle, _) => handle?,
        };
        match handle {
            Handle::Live(live) => {
                tracing::info!(match_id, "cancelling match");
                live.cancel();
                live.finished().await;
                Ok(live.info())
            }
            Handle::Finished(stored) => Ok(stored.info()),
            Handle::Elsewhere(info) => Ok(*info),
        }
    }

    /// Cancels every live match; `only_queued` spares the running ones.
    pub async fn cancel_all(&self, only_queued: bool) {
        for live in self.live.lock().await.values() {
            if !only_queued || matches!(live.phase(), crate::live::Phase::Queued) {
                live.cancel();
            }
        }
    }

    /// Waits until no match is live.
    pub async fn wait_idle(&self) {
        let mut count = self.live_count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Plays one admitted match to its end and records it.
    async fn drive(
        self: Arc<Self>,
        live: Arc<LiveMatch>,
        plan: MatchPlan,
        reservation: Reservation,
    ) {
        let slot = tokio::select! {
            slot = reservation.acquire() => slot.ok(),
            () = live.cancel_token().cancelled() => None,
        };
        let response = match slot {
            Some(_slot) => {
                live.set_running();
                self.play(&plan, &live).await
            }
            None => {
                let message = if self.admission.is_closed() {
                    // A match Job keeps running without this replica; submitting again attaches to it.
                    "the executor shut down before the match started; submit it again"
                } else {
                    if let Some(k8s) = self.backend.kubernetes() {
                        if let Err(e) = k8s.cancel_elsewhere(&plan.match_id).await {
                            tracing::warn!(match_id = %plan.match_id, error = %e, "deleting the match Job failed");
                        }
                    }
                    "cancelled before the match started"
                };
                failed_outcome(&plan, MatchStatus::Cancelled, message.to_string(), &[])
                    .to_response()
            }
        };
        let stored = StoredMatch {
            fingerprint: live.fingerprint.clone(),
            response: Some(response.clone()),
            environment: plan.environment.clone(),
            agent_ids: live.agent_ids.clone(),
        };
        if let Err(e) = self.results.put(&stored).await {
            tracing::error!(match_id = %plan.match_id, error = %e, "storing the result failed");
        }
        live.finish(response);
        let mut map = self.live.lock().await;
        map.remove(&plan.match_id);
        self.live_count.send_replace(map.len());
    }

    #[tracing::instrument(skip_all, fields(match_id = %plan.match_id, environment = %plan.environment))]
    async fn play(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> pb::MatchResponse {
        tracing::info!(
            seed = plan.seed,
            agents = plan.agents.len(),
            "match started"
        );
        let (played, cleanup) = self.backend.run(plan, &live.fingerprint, live).await;
        let run = &played.run;
        let outcome = &run.outcome;
        let mut response = played
            .stored
            .clone()
            .unwrap_or_else(|| outcome.to_response());
        let replay = run.replay.as_ref().filter(|_| played.stored.is_none());
        let store = async {
            match replay {
                Some(replay) => Some(self.replays.put(&plan.match_id, replay).await),
                None => None,
            }
        };
        // The work directory goes while the replay is written; both are done before the match is answered.
        let (stored, ()) = tokio::join!(store, cleanup.finish());
        if let Some(stored) = stored {
            match stored {
                Ok(stored) => {
                    self.metrics.replay_stored(stored.stored_bytes);
                    response.replay_url = stored.json_url;
                    response.replay_html_url = stored.html_url;
                    response.replay_sha256 = stored.sha256;
                }
                Err(e) => {
                    tracing::error!(error = %e, "storing the replay failed");
                    if response.error_message.is_empty() {
                        response.error_message = format!("replay not stored: {e}");
                    }
                }
            }
        }
        for agent in &outcome.agents {
            if agent.status != AgentStatus::Ok {
                self.metrics.agent_errors(
                    &format!("{:?}", agent.status).to_lowercase(),
                    u64::from(agent.errors),
                );
            }
        }
        let status = format!("{:?}", outcome.status).to_lowercase();
        self.metrics
            .match_finished(&plan.environment, &status, outcome.execution_time_sec);
        tracing::info!(
            status = %status,
            winner = outcome.winner.as_deref().unwrap_or(""),
            steps = response.total_steps,
            seconds = response.execution_time_sec,
            "match finished"
        );
        response
    }
}

fn same_request(existing: &str, new: &str, match_id: &str, state: &str) -> Result<()> {
    if existing == new {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "match_id {match_id:?} is already used by a different request ({state}); send the identical request \
             to attach to it, or use a new match_id"
        )))
    }
}

/// Digest of everything in a request that defines its match.
pub fn fingerprint(req: &pb::MatchRequest) -> String {
    let agents: Vec<_> = req
        .agents
        .iter()
        .map(|a| {
            let metadata: std::collections::BTreeMap<_, _> = a.metadata.iter().collect();
            json!([a.agent_id, a.code_url, a.version, a.docker_image, metadata])
        })
        .collect();
    let limits = req
        .limits
        .as_ref()
        .map(|l| json!([l.init_ms, l.step_ms, l.bank_ms, l.max_errors, l.memory_mb]));
    let doc = json!([
        req.match_id,
        req.environment,
        agents,
        req.timeout_sec,
        req.record_replay,
        req.seed,
        req.environment_config_json,
        limits
    ]);
    hex::encode(Sha256::digest(doc.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_tells_requests_apart_but_not_metadata_order() {
        let mut a = pb::MatchRequest {
            match_id: "m".into(),
            environment: "pong".into(),
            agents: vec![pb::AgentData {
                agent_id: "x".into(),
                code_url: "/a".into(),
                metadata: [
                    ("k1".to_string(), "v".to_string()),
                    ("k2".to_string(), "w".to_string()),
                ]
                .into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let base = fingerprint(&a);
        assert_eq!(base, fingerprint(&a.clone()));
        a.seed = 1;
        assert_ne!(base, fingerprint(&a));
        a.seed = 0;
        a.agents[0].code_url = "/b".into();
        assert_ne!(base, fingerprint(&a));
    }
}
