//! The life of matches: submission (idempotency on `match_id`, validation, admission), the task that plays
//! each match within its budget and has it recorded, lookup, cancellation and draining.
//!
//! A match id names one request forever: the same request again attaches to the live match or returns the
//! stored result; a different request with the same id is a conflict.
//!
//! `timeout_sec` is the caller's whole budget, counted from the submission: time in the queue, agent installs,
//! (in Kubernetes) pod start-up and play all draw on it. When it runs out the match is stopped, whatever it is
//! doing, and answered with the result as it stands (`STATUS_TIMEOUT`) within a few seconds. A stopped match's
//! result says why it stopped: a `CancelMatch` request, the executor's shutdown, or its budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proto::outcome::{AgentStatus, MatchStatus};
use tokio::sync::{Mutex, watch};

use crate::admission::{Admission, Reservation, Slot};
use crate::agent_sources::AgentSources;
use crate::backend::{Backend, Drain, Ending, Played};
use crate::blob_store::Download;
use crate::config::ExecutorArgs;
use crate::error::{Error, Result};
use crate::info::{MatchInfo, MatchResult, Submitted};
use crate::live::{LiveMatch, Phase, StopReason};
use crate::metrics::Metrics;
use crate::recorder::{Recorder, Replay};
use crate::request::{self, MatchPlan, Submission};
use crate::result_store::StoredMatch;

/// Time cancelled matches get to record their results during shutdown.
const CANCEL_GRACE: Duration = Duration::from_secs(20);
/// Time past a playing match's deadline that its backend gets to end it on its own (a local orchestrator
/// stops before the deadline; a Kubernetes Job's deadline stops its pod, whose report is the result) before
/// the executor stops it.
const STOP_BACKSTOP: Duration = Duration::from_secs(5);

/// A match found by id.
#[derive(Debug, Clone)]
pub(crate) enum Handle {
    Live(Arc<LiveMatch>),
    Finished(Box<StoredMatch>),
    /// A match that runs for another replica (or for none); see [`Backend::find_elsewhere`].
    Elsewhere(Box<MatchInfo>),
}

impl Handle {
    pub(crate) fn info(&self) -> MatchInfo {
        match self {
            Self::Live(live) => live.info(),
            Self::Finished(stored) => stored.info(),
            Self::Elsewhere(info) => (**info).clone(),
        }
    }

    /// Waits for the match's result.
    pub(crate) async fn result(self) -> Result<MatchResult> {
        match self {
            Self::Live(live) => Ok(live.finished().await),
            Self::Finished(stored) => Ok(stored.result),
            // Submitting attaches to a match running elsewhere as a live match; it never hands back this variant.
            Self::Elsewhere(info) => Err(Error::Internal(format!(
                "match {} is followed elsewhere; ask GetMatch",
                info.match_id
            ))),
        }
    }
}

/// The executor's matches and everything needed to play them.
#[derive(Debug)]
pub(crate) struct Matches {
    settings: ExecutorArgs,
    /// What requests may name as their agents' code.
    sources: AgentSources,
    admission: Arc<Admission>,
    backend: Backend,
    recorder: Arc<Recorder>,
    metrics: Arc<Metrics>,
    live: Mutex<HashMap<String, Arc<LiveMatch>>>,
    /// Number of live matches, for draining.
    live_count: watch::Sender<usize>,
}

impl Matches {
    pub(crate) fn new(
        settings: ExecutorArgs,
        sources: AgentSources,
        backend: Backend,
        recorder: Arc<Recorder>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let admission = Admission::new(
            settings.max_concurrent_matches.max(1),
            settings.max_queued_matches,
        );
        Arc::new(Self {
            settings,
            sources,
            admission,
            backend,
            recorder,
            metrics,
            live: Mutex::new(HashMap::new()),
            live_count: watch::channel(0).0,
        })
    }

    /// Queues a match, or finds the one this request already created.
    pub(crate) async fn submit(self: &Arc<Self>, submission: Submission) -> Result<Handle> {
        let match_id = submission.match_id();
        let mut live = self.live.lock().await;
        if let Some(existing) = live.get(match_id) {
            return same_request(
                &existing.submitted.fingerprint,
                submission.fingerprint(),
                match_id,
                "running",
            )
            .map(|()| Handle::Live(Arc::clone(existing)));
        }
        if let Some(stored) = self.recorder.get(match_id).await? {
            return same_request(
                &stored.submitted.fingerprint,
                submission.fingerprint(),
                match_id,
                "finished",
            )
            .map(|()| Handle::Finished(Box::new(stored)));
        }
        let plan = submission.plan(&self.settings, &self.sources).await?;
        let reservation = self.admission.reserve()?;
        let entry = Arc::new(LiveMatch::new(
            plan.match_id.clone(),
            Submitted {
                fingerprint: submission.fingerprint().to_string(),
                environment: plan.environment.clone(),
                agent_ids: plan.agent_ids(),
            },
            plan.timeout,
        ));
        live.insert(plan.match_id.clone(), Arc::clone(&entry));
        self.live_count.send_replace(live.len());
        drop(live);
        if let Err(e) = self.backend.admit(&plan, submission.fingerprint()).await {
            let mut live = self.live.lock().await;
            live.remove(&plan.match_id);
            self.live_count.send_replace(live.len());
            return Err(e);
        }
        tokio::spawn(Arc::clone(self).drive(Arc::clone(&entry), plan, reservation));
        Ok(Handle::Live(entry))
    }

    /// Finds a match by id.
    pub(crate) async fn get(&self, match_id: &str) -> Result<Handle> {
        request::check_match_id(match_id)?;
        if let Some(live) = self.live.lock().await.get(match_id) {
            return Ok(Handle::Live(Arc::clone(live)));
        }
        if let Some(stored) = self.recorder.get(match_id).await? {
            return Ok(Handle::Finished(Box::new(stored)));
        }
        match self.backend.find_elsewhere(match_id) {
            Some(info) => Ok(Handle::Elsewhere(Box::new(info))),
            None => Err(Error::NotFound(format!(
                "no match with match_id {match_id:?}; submit it with SubmitMatch or RunMatch first"
            ))),
        }
    }

    /// The name of the Kubernetes Job of a match; `None` with the local backend.
    pub(crate) fn job_name(&self, match_id: &str) -> Option<String> {
        self.backend.job_name(match_id)
    }

    /// Waits for the result of a match followed elsewhere (see [`Handle::Elsewhere`]).
    pub(crate) async fn result_elsewhere(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        self.backend.result_elsewhere(match_id).await
    }

    /// Cancels a queued or running match and returns its final state; a finished match is returned as is.
    pub(crate) async fn cancel(&self, match_id: &str) -> Result<MatchInfo> {
        let handle = match self.get(match_id).await {
            // A match that runs for another replica (or for none) is cancelled through the backend.
            Ok(Handle::Elsewhere(_)) => {
                return self
                    .backend
                    .cancel_elsewhere(match_id)
                    .await?
                    .ok_or_else(|| {
                        Error::NotFound(format!(
                            "match {match_id:?} ended before it could be cancelled"
                        ))
                    });
            }
            Err(Error::NotFound(message)) => {
                return self
                    .backend
                    .cancel_elsewhere(match_id)
                    .await?
                    .ok_or(Error::NotFound(message));
            }
            handle => handle?,
        };
        match handle {
            Handle::Live(live) => {
                tracing::info!(match_id, "cancelling match");
                live.cancel(StopReason::Request);
                live.finished().await;
                Ok(live.info())
            }
            Handle::Finished(stored) => Ok(stored.info()),
            Handle::Elsewhere(info) => Ok(*info),
        }
    }

    /// A slot for agent code run outside a match (`ValidateAgent` unpacks, checks and plays a smoke match
    /// of a submitted agent): it counts against the concurrency limit and in `active_matches`, and waits in
    /// the queue like a match (or is refused when the queue is full or the executor is draining).
    pub(crate) async fn validation_slot(&self) -> Result<Slot> {
        self.admission.reserve()?.acquire().await
    }

    /// Whether new matches are taken (not draining).
    pub(crate) fn accepting(&self) -> bool {
        !self.admission.is_closed()
    }

    /// Matches holding a slot now.
    pub(crate) fn running(&self) -> usize {
        self.admission.running()
    }

    /// The metrics in the text exposition format, with the current load.
    pub(crate) fn metrics_text(&self) -> String {
        self.metrics
            .encode(self.admission.running(), self.admission.queued())
    }

    /// A stored replay file by its file name, to stream.
    pub(crate) async fn replay_file(&self, file: &str) -> Result<Option<Download>> {
        self.recorder.replay_file(file).await
    }

    /// Takes no new matches, cancels the queued ones, and deals with the running ones as the backend's
    /// [`Drain`] says: let them finish within `grace` and then cancel the rest, or leave them running.
    pub(crate) async fn drain(&self, grace: Duration) {
        self.admission.close();
        self.cancel_all(true).await;
        match self.backend.drain() {
            Drain::Leave => {
                tracing::info!("leaving running matches to run on without this replica");
            }
            Drain::FinishThenCancel => {
                if tokio::time::timeout(grace, self.wait_idle()).await.is_err() {
                    tracing::warn!("grace period over; cancelling the matches still running");
                    self.cancel_all(false).await;
                    let _ = tokio::time::timeout(CANCEL_GRACE, self.wait_idle()).await;
                }
            }
        }
    }

    /// Cancels every live match for the shutdown; `only_queued` spares the running ones.
    async fn cancel_all(&self, only_queued: bool) {
        for live in self.live.lock().await.values() {
            if !only_queued || matches!(live.phase(), Phase::Queued) {
                live.cancel(StopReason::Shutdown);
            }
        }
    }

    /// Waits until no match is live.
    async fn wait_idle(&self) {
        let mut count = self.live_count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Plays one admitted match to its end, or to the end of its budget, and has it recorded.
    async fn drive(
        self: Arc<Self>,
        live: Arc<LiveMatch>,
        plan: MatchPlan,
        reservation: Reservation,
    ) {
        let slot = tokio::select! {
            slot = reservation.acquire() => slot.ok(),
            () = live.cancel_token().cancelled() => None,
            () = tokio::time::sleep_until(live.deadline()) => {
                live.cancel(StopReason::Deadline);
                None
            }
        };
        let result = match slot {
            Some(_slot) => {
                live.set_running();
                self.play(&plan, &live).await
            }
            None => {
                let (status, message) = match live.stop_reason() {
                    Some(StopReason::Deadline) => (
                        MatchStatus::Timeout,
                        format!(
                            "the match waited in the queue for its whole budget of {} s (timeout_sec); submit it \
                             again when the executor is less busy",
                            plan.timeout.as_secs()
                        ),
                    ),
                    Some(StopReason::Request) => (
                        MatchStatus::Cancelled,
                        "cancelled by a CancelMatch request before the match started".to_string(),
                    ),
                    // A backend that leaves matches running on a drain lets them run on; submitting again
                    // (to another replica) attaches to them.
                    Some(StopReason::Shutdown | StopReason::Restart) | None => (
                        MatchStatus::Cancelled,
                        "the executor shut down before the match started; submit it again"
                            .to_string(),
                    ),
                };
                // A match the shutdown took out of the queue is left to a backend that lets matches run on
                // without this replica.
                if !matches!(live.stop_reason(), Some(StopReason::Shutdown) | None) {
                    self.backend.withdraw(&plan.match_id).await;
                }
                let outcome = plan.entrants().not_started(status, message);
                self.recorder
                    .finish(
                        &live.submitted,
                        outcome,
                        Replay::unplayed(plan.record_replay),
                    )
                    .await
                    .result
            }
        };
        live.finish(result);
        let mut map = self.live.lock().await;
        map.remove(&plan.match_id);
        self.live_count.send_replace(map.len());
    }

    /// Plays a match that has its slot and records it; the backend keeps what it holds for the match (its work
    /// directory, its claim) until the match is recorded.
    #[tracing::instrument(skip_all, fields(match_id = %plan.match_id, environment = %plan.environment))]
    async fn play(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> MatchResult {
        tracing::info!(
            seed = plan.seed,
            agents = plan.agents.len(),
            "match started"
        );
        let Played { ending, mut held } = self.play_within_budget(plan, live).await;
        let stored = match ending {
            Ending::Outcome {
                mut outcome,
                replay,
            } => {
                live.settle(&mut outcome);
                self.recorder.finish(&live.submitted, outcome, replay).await
            }
            Ending::Recorded(stored) => stored,
        };
        // What the backend held (the work directory with the replay file) goes once the match is recorded, and
        // before it is answered.
        held.removed().await;
        drop(held);
        let outcome = &stored.result.outcome;
        for agent in &outcome.agents {
            if !matches!(agent.status, AgentStatus::Ok | AgentStatus::NotStarted) {
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
            steps = outcome.total_steps,
            seconds = outcome.execution_time_sec,
            "match finished"
        );
        stored.result
    }

    /// Has the backend play the match, and stops it when its budget runs out and the backend did not end it
    /// on its own: the backend then ends it as it ends a cancelled match, with the result as it stands.
    async fn play_within_budget(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> Played {
        let play = self.backend.play(plan, live);
        tokio::pin!(play);
        tokio::select! {
            played = &mut play => return played,
            () = tokio::time::sleep_until(live.deadline() + STOP_BACKSTOP) => {}
        }
        tracing::warn!(
            timeout_sec = plan.timeout.as_secs(),
            "the match's budget ran out; stopping it"
        );
        live.cancel(StopReason::Deadline);
        play.await
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
