//! The Kubernetes backend: one Job per match, tracked through shared watches, idempotent and stateless.
//!
//! - [`job`]: the one function that builds a match's Job and Secret (also `executor render-job`).
//! - [`names`]: the deterministic Job name of a match id.
//! - [`tracker`]: one watcher per kind (Jobs, Pods) feeding reflector stores; waiters are woken per match.
//! - [`diagnose`]: Job and pod status to a verdict (running, produced a result, failed with a precise cause).
//! - [`api`]: the few API calls a match makes (create-or-attach, delete), with retries and a field manager.
//!
//! A match's result comes from the orchestrator's report stream, recorded by whichever replica received it
//! ([`crate::reporter`]), else from the `match-orchestrator` termination message. Any replica can wait for
//! any match: the Job is found by name, the result in the shared result store, and the reconciler records
//! matches that finished while nobody waited.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::chrono::Utc;
use kube::ResourceExt;
use proto::outcome::{MatchOutcome, MatchStatus};
use proto::pb;

use super::{MatchRun, Played, failed_outcome};
use crate::error::{Error, Result};
use crate::live::LiveMatch;
use crate::replay_store::ReplayStore;
use crate::reporter::{ReportHub, ReportKey, ReportSink};
use crate::request::MatchPlan;
use crate::result_store::{ResultStore, StoredMatch};

pub mod api;
pub mod diagnose;
pub mod job;
pub mod names;
pub mod tracker;

#[cfg(test)]
mod tests;

pub use api::{Attached, JobApi};
pub use diagnose::Verdict;
pub use job::{JobSettings, MatchObjects};
pub use tracker::Tracker;

/// Every Kubernetes API permission the backend uses, as (API group, resource, verb); the deploy Role must
/// grant exactly these in the match namespace.
pub const API_PERMISSIONS: &[(&str, &str, &str)] = &[
    ("batch", "jobs", "create"),
    ("batch", "jobs", "get"),
    ("batch", "jobs", "list"),
    ("batch", "jobs", "watch"),
    ("batch", "jobs", "delete"),
    ("", "pods", "list"),
    ("", "pods", "watch"),
    ("", "secrets", "create"),
    ("", "secrets", "patch"),
];

/// Time the executor keeps waiting past a Job's own deadline before it gives up on the watch.
const WATCH_MARGIN: Duration = Duration::from_secs(60);
/// How long a waiter waits for the watch to show its Job before it asks the API whether it still exists.
const UNSEEN_JOB_WAIT: Duration = Duration::from_secs(3);
/// How often the janitor looks (in the local store) for finished Jobs the TTL controller left behind.
const JANITOR_EVERY: Duration = Duration::from_secs(60);

/// Timing of the backend, from the configuration.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How long a pod may stay unschedulable.
    pub startup_budget: Duration,
    /// How long a finished Job nobody waits for may stay unrecorded before this replica records it.
    pub adopt_grace: Duration,
    /// `ttlSecondsAfterFinished`; the janitor deletes finished Jobs older than twice this.
    pub ttl: Duration,
}

/// Plays matches as Kubernetes Jobs.
#[derive(Debug)]
pub struct KubernetesBackend {
    api: JobApi,
    tracker: Arc<Tracker>,
    settings: JobSettings,
    key: ReportKey,
    timing: Timing,
    hub: Arc<ReportHub>,
    results: ResultStore,
    replays: ReplayStore,
    /// Match ids waited for on this replica; the reconciler leaves them to their waiter.
    waiting: Mutex<HashSet<String>>,
    /// Agent-init binary and Python for `ValidateAgent`, which runs in the executor itself.
    pub agent_init_bin: std::path::PathBuf,
    pub python: String,
}

/// What the backend needs from the rest of the executor.
pub struct Parts {
    pub client: kube::Client,
    pub settings: JobSettings,
    pub key: ReportKey,
    pub timing: Timing,
    pub hub: Arc<ReportHub>,
    pub results: ResultStore,
    pub replays: ReplayStore,
    pub agent_init_bin: std::path::PathBuf,
    pub python: String,
}

impl KubernetesBackend {
    /// Starts the watches, the reconciler and the janitor.
    pub fn start(parts: Parts) -> Arc<Self> {
        let tracker = Tracker::start(parts.client.clone(), &parts.settings.namespace);
        let backend = Arc::new(Self {
            api: JobApi::new(parts.client, &parts.settings.namespace),
            tracker,
            settings: parts.settings,
            key: parts.key,
            timing: parts.timing,
            hub: parts.hub,
            results: parts.results,
            replays: parts.replays,
            waiting: Mutex::new(HashSet::new()),
            agent_init_bin: parts.agent_init_bin,
            python: parts.python,
        });
        tokio::spawn(reconcile(Arc::downgrade(&backend)));
        backend
    }

    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    /// Waits for a match whose Job [`Self::create_or_attach`] made or found, and returns its result. Never
    /// fails: whatever goes wrong becomes the outcome.
    #[tracing::instrument(skip_all, fields(match_id = %plan.match_id))]
    pub async fn run(&self, plan: &MatchPlan, fingerprint: &str, live: &Arc<LiveMatch>) -> Played {
        let _waiting = Waiting::new(self, &plan.match_id);
        let _registration = self
            .hub
            .register_with_token(live, self.key.token(&plan.match_id));
        match self.try_run(plan, fingerprint, live).await {
            Ok(played) => played,
            Err(e) => Played {
                run: MatchRun {
                    outcome: failed_outcome(
                        plan,
                        MatchStatus::Error,
                        format!("executor: {e}"),
                        &[],
                    ),
                    replay: None,
                },
                stored: None,
            },
        }
    }

    /// Creates the match's Job, or checks that the Job with its name was made by the same request.
    pub async fn create_or_attach(&self, plan: &MatchPlan, fingerprint: &str) -> Result<Attached> {
        let name = names::job_name(&plan.match_id);
        if let Some(job) = self.tracker.job(&name) {
            return api::attach(&job, &plan.match_id, fingerprint);
        }
        let objects = self
            .settings
            .build(plan, fingerprint, &self.key.token(&plan.match_id))?;
        let attached = self
            .api
            .create_or_attach(&objects, &plan.match_id, fingerprint)
            .await?;
        tracing::info!(match_id = %plan.match_id, job = %name, created = matches!(attached, Attached::Created(_)), "match job");
        Ok(attached)
    }

    async fn try_run(
        &self,
        plan: &MatchPlan,
        fingerprint: &str,
        live: &Arc<LiveMatch>,
    ) -> Result<Played> {
        let name = names::job_name(&plan.match_id);
        let agent_ids: Vec<String> = plan.agents.iter().map(|a| a.agent_id.clone()).collect();
        let deadline = Duration::from_secs(self.settings.deadline_sec(plan)) + WATCH_MARGIN;
        let cancel = live.cancel_token();
        let waited = tokio::select! {
            waited = tokio::time::timeout(deadline, self.wait(&plan.match_id, &name, &agent_ids)) => waited.ok(),
            () = cancel.cancelled() => {
                tracing::info!("match cancelled; deleting its job");
                self.api.delete(&name).await?;
                let outcome = failed_outcome(plan, MatchStatus::Cancelled, "cancelled".into(), &[]);
                return self.finish(plan, fingerprint, outcome, Vec::new()).await;
            }
        };
        let verdict = match waited {
            Some(Some(verdict)) => verdict,
            Some(None) => {
                // The Job is gone: cancelled elsewhere, or recorded and collected.
                if let Some(stored) = self.results.get(&plan.match_id).await? {
                    return Ok(stored_run(plan, stored));
                }
                let outcome = failed_outcome(
                    plan,
                    MatchStatus::Error,
                    format!("the match Job {name} was deleted before the match recorded a result"),
                    &[],
                );
                return self.finish(plan, fingerprint, outcome, Vec::new()).await;
            }
            None => {
                let _ = self.api.delete(&name).await;
                let outcome = failed_outcome(
                    plan,
                    MatchStatus::Timeout,
                    format!(
                        "the match Job {name} did not end within {} s; it was deleted",
                        deadline.as_secs()
                    ),
                    &[],
                );
                return self.finish(plan, fingerprint, outcome, Vec::new()).await;
            }
        };
        let job = self.tracker.job(&name);
        let outcome = self.settle(plan, &name, job.as_deref(), verdict).await?;
        match outcome {
            Settled::Stored(stored) => Ok(stored_run(plan, stored)),
            Settled::Outcome(outcome) => self.finish(plan, fingerprint, outcome, Vec::new()).await,
        }
    }

    /// Waits until the match's verdict is final; `None` when its Job disappeared.
    async fn wait(&self, match_id: &str, name: &str, agent_ids: &[String]) -> Option<Verdict> {
        let mut changes = self.tracker.subscribe(match_id);
        let mut seen = false;
        let mut asked = false;
        loop {
            changes.borrow_and_update();
            let mut recheck = None;
            match self.tracker.job(name) {
                None if seen => return None,
                // Not seen yet: the watch may lag behind the create, or the Job may be gone already (a
                // queued match whose Job finished and was collected). Ask once after a moment.
                None if asked => {}
                None => match tokio::time::timeout(UNSEEN_JOB_WAIT, changes.changed()).await {
                    Ok(_) => continue,
                    Err(_) => {
                        asked = true;
                        if let Ok(None) = self.api.get(name).await {
                            return None;
                        }
                    }
                },
                Some(job) => {
                    seen = true;
                    match self.verdict(match_id, &job, agent_ids) {
                        Verdict::Pending { recheck_in } => recheck = recheck_in,
                        verdict => return Some(verdict),
                    }
                }
            }
            let recheck = recheck.unwrap_or(Duration::MAX);
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return None },
                () = tokio::time::sleep(recheck.min(Duration::from_secs(86_400))) => {}
            }
        }
    }

    fn verdict(&self, match_id: &str, job: &Job, agent_ids: &[String]) -> Verdict {
        let pods = self.tracker.pods(match_id);
        let pods: Vec<_> = pods.iter().map(AsRef::as_ref).collect();
        diagnose::diagnose(
            job,
            &pods,
            &diagnose::Context {
                agent_ids,
                startup_budget: self.timing.startup_budget,
                now: Utc::now(),
            },
        )
    }

    /// Turns a final verdict into the stored result or an outcome to record; stops pods of a failed match.
    async fn settle(
        &self,
        plan: &MatchPlan,
        name: &str,
        job: Option<&Job>,
        verdict: Verdict,
    ) -> Result<Settled> {
        let stored = self.results.get(&plan.match_id).await?;
        match verdict {
            Verdict::Pending { .. } => Err(Error::Internal("settling a pending match".into())),
            Verdict::Succeeded {
                termination_message,
            } => {
                if let Some(stored) = stored {
                    return Ok(Settled::Stored(stored));
                }
                tracing::info!("no report arrived; reading the orchestrator's termination message");
                Ok(Settled::Outcome(from_termination_message(
                    plan,
                    termination_message.as_deref(),
                )))
            }
            Verdict::Failed {
                status,
                message,
                faults,
            } => {
                if !job.is_some_and(is_finished) {
                    self.api.delete(name).await?;
                }
                tracing::info!(status = ?status, message = %message, "match failed");
                // A timed-out orchestrator still reports what was played before it was stopped.
                if let (MatchStatus::Timeout, Some(mut stored)) = (status, stored) {
                    if let Some(response) = stored.response.as_mut() {
                        response.status = pb::MatchStatus::StatusTimeout.into();
                        response.error_message = message;
                        self.results.put(&stored).await?;
                        return Ok(Settled::Stored(stored));
                    }
                }
                Ok(Settled::Outcome(failed_outcome(
                    plan, status, message, &faults,
                )))
            }
        }
    }

    /// Records an outcome the backend made itself (no replay) and hands it back.
    async fn finish(
        &self,
        plan: &MatchPlan,
        fingerprint: &str,
        outcome: MatchOutcome,
        replay: Vec<u8>,
    ) -> Result<Played> {
        let stored = self
            .store(
                fingerprint,
                &plan.environment,
                plan.agents.iter().map(|a| a.agent_id.clone()).collect(),
                outcome.clone(),
                replay,
            )
            .await?;
        Ok(Played {
            run: MatchRun {
                outcome,
                replay: None,
            },
            stored: stored.response,
        })
    }

    /// Writes the replay (if any) and the result.
    async fn store(
        &self,
        fingerprint: &str,
        environment: &str,
        agent_ids: Vec<String>,
        outcome: MatchOutcome,
        replay: Vec<u8>,
    ) -> Result<StoredMatch> {
        let mut response = outcome.to_response();
        if !replay.is_empty() {
            let stored = self.replays.put(&outcome.match_id, &replay).await?;
            response.replay_url = stored.json_url;
            response.replay_html_url = stored.html_url;
            response.replay_sha256 = stored.sha256;
        }
        let stored = StoredMatch {
            fingerprint: fingerprint.to_string(),
            response: Some(response),
            environment: environment.to_string(),
            agent_ids,
        };
        self.results.put(&stored).await?;
        Ok(stored)
    }

    /// The state of a match whose Job exists but that no waiter on this replica follows (it was submitted to
    /// another replica): queued until its pod exists, then running.
    pub fn info_elsewhere(&self, match_id: &str) -> Option<pb::MatchInfo> {
        let job = self.tracker.job(&names::job_name(match_id))?;
        let meta = JobMeta::of(&job).filter(|m| m.match_id == match_id)?;
        let state = if self.tracker.pods(match_id).is_empty() {
            pb::MatchState::Queued
        } else {
            pb::MatchState::Running
        };
        Some(pb::MatchInfo {
            match_id: meta.match_id,
            state: state.into(),
            result: None,
            current_step: 0,
            environment: meta.environment,
            agent_ids: meta.agent_ids,
        })
    }

    /// Waits for the recorded result of a match followed elsewhere: every change of its Job or pod (and the
    /// Job's removal at its TTL) looks again in the shared result store. `None` when the Job is gone without
    /// a recorded result.
    pub async fn result_elsewhere(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        let mut changes = self.tracker.subscribe(match_id);
        loop {
            if let Some(stored) = self.results.get(match_id).await? {
                return Ok(Some(stored));
            }
            if self.tracker.job(&names::job_name(match_id)).is_none()
                || changes.changed().await.is_err()
            {
                return self.results.get(match_id).await;
            }
        }
    }

    /// Cancels a match waited for on another replica (or on none): deletes its Job and records it cancelled.
    pub async fn cancel_elsewhere(&self, match_id: &str) -> Result<Option<pb::MatchInfo>> {
        let name = names::job_name(match_id);
        let job = match self.tracker.job(&name) {
            Some(job) => job,
            None => match self.api.get(&name).await? {
                Some(job) => Arc::new(job),
                None => return Ok(None),
            },
        };
        let Some(meta) = JobMeta::of(&job) else {
            return Ok(None);
        };
        if meta.match_id != match_id {
            return Ok(None);
        }
        tracing::info!(match_id, job = %name, "cancelling a match waited for elsewhere");
        self.api.delete(&name).await?;
        if let Some(stored) = self.results.get(match_id).await? {
            return Ok(Some(stored.info()));
        }
        let outcome = meta.failed(MatchStatus::Cancelled, "cancelled".into());
        let stored = self
            .store(
                &meta.fingerprint,
                &meta.environment,
                meta.agent_ids,
                outcome,
                Vec::new(),
            )
            .await?;
        Ok(Some(stored.info()))
    }

    /// Records the result of a Job nobody waits for here, once it is final and after the grace period in
    /// which its own waiter (on any replica) would have recorded it.
    async fn adopt(self: Arc<Self>, name: String, match_id: String) {
        let mut changes = self.tracker.subscribe(&match_id);
        loop {
            changes.borrow_and_update();
            if self.is_waiting(&match_id) {
                return;
            }
            let Some(job) = self.tracker.job(&name) else {
                return;
            };
            let Some(meta) = JobMeta::of(&job) else {
                return;
            };
            let verdict = self.verdict(&match_id, &job, &meta.agent_ids);
            let recheck = match verdict {
                Verdict::Pending { recheck_in } => recheck_in,
                verdict => {
                    tokio::time::sleep(self.timing.adopt_grace).await;
                    if self.is_waiting(&match_id) {
                        return;
                    }
                    if let Err(e) = self.record_adopted(&name, &job, meta, verdict).await {
                        tracing::warn!(match_id, error = %e, "recording an adopted match failed");
                    }
                    return;
                }
            };
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(recheck.unwrap_or(Duration::from_secs(86_400))) => {}
            }
        }
    }

    async fn record_adopted(
        &self,
        name: &str,
        job: &Job,
        meta: JobMeta,
        verdict: Verdict,
    ) -> Result<()> {
        if self.results.get(&meta.match_id).await?.is_some() {
            return Ok(());
        }
        let plan = meta.plan();
        let latest = self.tracker.job(name);
        let settled = self
            .settle(&plan, name, latest.as_deref().or(Some(job)), verdict)
            .await?;
        if let Settled::Outcome(outcome) = settled {
            tracing::info!(match_id = %meta.match_id, status = ?outcome.status, "recorded a match nobody waited for");
            self.store(
                &meta.fingerprint,
                &meta.environment,
                meta.agent_ids,
                outcome,
                Vec::new(),
            )
            .await?;
        }
        Ok(())
    }

    fn is_waiting(&self, match_id: &str) -> bool {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(match_id)
    }
}

#[tonic::async_trait]
impl ReportSink for KubernetesBackend {
    fn verify(&self, match_id: &str, token: &str) -> bool {
        self.key.verify(match_id, token)
    }

    async fn record(&self, match_id: &str, outcome: MatchOutcome, replay: Vec<u8>) -> Result<()> {
        let name = names::job_name(match_id);
        let job = match self.tracker.job(&name) {
            Some(job) => job,
            None => Arc::new(self.api.get(&name).await?.ok_or_else(|| {
                Error::NotFound(format!("no Job {name} for the reported match {match_id}"))
            })?),
        };
        let meta = JobMeta::of(&job).ok_or_else(|| {
            Error::Internal(format!("Job {name} lacks the executor's annotations"))
        })?;
        self.store(
            &meta.fingerprint,
            &meta.environment,
            meta.agent_ids,
            outcome,
            replay,
        )
        .await?;
        Ok(())
    }
}

/// A final verdict, settled.
enum Settled {
    /// Someone (the report stream's receiver, or a canceller) already recorded the result.
    Stored(StoredMatch),
    /// The outcome to record.
    Outcome(MatchOutcome),
}

/// Marks a match as waited for on this replica while alive.
struct Waiting<'a> {
    backend: &'a KubernetesBackend,
    match_id: String,
}

impl<'a> Waiting<'a> {
    fn new(backend: &'a KubernetesBackend, match_id: &str) -> Self {
        backend
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(match_id.to_string());
        Self {
            backend,
            match_id: match_id.to_string(),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.backend
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.match_id);
    }
}

/// What a Job's labels and annotations say about its match.
#[derive(Debug, Clone)]
struct JobMeta {
    match_id: String,
    fingerprint: String,
    environment: String,
    agent_ids: Vec<String>,
}

impl JobMeta {
    fn of(job: &Job) -> Option<Self> {
        let annotations = job.annotations();
        Some(Self {
            match_id: job.labels().get(job::MATCH_ID_LABEL)?.clone(),
            fingerprint: annotations.get(job::FINGERPRINT_ANNOTATION)?.clone(),
            environment: annotations
                .get(job::ENVIRONMENT_ANNOTATION)
                .cloned()
                .unwrap_or_default(),
            agent_ids: annotations
                .get(job::AGENT_IDS_ANNOTATION)
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default(),
        })
    }

    /// A plan that carries what outcomes need (id and agents); seed and limits are not known here.
    fn plan(&self) -> MatchPlan {
        MatchPlan {
            match_id: self.match_id.clone(),
            environment: self.environment.clone(),
            config: Default::default(),
            seed: 0,
            agents: self
                .agent_ids
                .iter()
                .map(|id| crate::request::AgentSource {
                    agent_id: id.clone(),
                    source: String::new(),
                })
                .collect(),
            timeout: Duration::ZERO,
            record_replay: false,
            limits: Default::default(),
        }
    }

    fn failed(&self, status: MatchStatus, message: String) -> MatchOutcome {
        failed_outcome(&self.plan(), status, message, &[])
    }
}

fn is_finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

fn stored_run(plan: &MatchPlan, stored: StoredMatch) -> Played {
    let outcome = match &stored.response {
        Some(response) => outcome_of(response),
        None => failed_outcome(
            plan,
            MatchStatus::Error,
            "stored result is empty".into(),
            &[],
        ),
    };
    Played {
        run: MatchRun {
            outcome,
            replay: None,
        },
        stored: stored.response,
    }
}

/// The outcome behind a stored response, as far as metrics and logs need it.
fn outcome_of(response: &pb::MatchResponse) -> MatchOutcome {
    use proto::outcome::{AgentOutcome, AgentStatus};
    let status = match response.status() {
        pb::MatchStatus::StatusSuccess => MatchStatus::Success,
        pb::MatchStatus::StatusTimeout => MatchStatus::Timeout,
        pb::MatchStatus::StatusCancelled => MatchStatus::Cancelled,
        _ => MatchStatus::Error,
    };
    MatchOutcome {
        match_id: response.match_id.clone(),
        status,
        winner: Some(response.winner_agent_id.clone()).filter(|w| !w.is_empty()),
        agents: response
            .agent_results
            .iter()
            .map(|a| AgentOutcome {
                agent_id: a.agent_id.clone(),
                score: a.score,
                errors: a.errors,
                status: match a.status() {
                    pb::AgentStatus::Ok => AgentStatus::Ok,
                    pb::AgentStatus::InvalidAction => AgentStatus::InvalidAction,
                    pb::AgentStatus::Timeout => AgentStatus::Timeout,
                    pb::AgentStatus::Crashed => AgentStatus::Crashed,
                    pb::AgentStatus::Disqualified => AgentStatus::Disqualified,
                    _ => AgentStatus::Error,
                },
                error_message: a.error_message.clone(),
                stderr_tail: a.stderr_tail.clone(),
                time_used_sec: a.time_used_sec,
                cpu_time_sec: a.cpu_time_sec,
                isolation: Default::default(),
            })
            .collect(),
        total_steps: response.total_steps,
        execution_time_sec: response.execution_time_sec,
        seed: response.seed,
        error_message: response.error_message.clone(),
        replay_sha256: Some(response.replay_sha256.clone()).filter(|s| !s.is_empty()),
    }
}

/// The outcome the orchestrator left in its termination message, or an error outcome that says why there
/// is none. Kubernetes cuts termination messages at 4096 bytes, so a long outcome may arrive truncated.
pub fn from_termination_message(plan: &MatchPlan, message: Option<&str>) -> MatchOutcome {
    let Some(message) = message else {
        return failed_outcome(
            plan,
            MatchStatus::Error,
            "the orchestrator finished but its result was lost: no report arrived and it left no termination \
             message"
                .into(),
            &[],
        );
    };
    match serde_json::from_str::<MatchOutcome>(message) {
        Ok(outcome) if outcome.match_id == plan.match_id => outcome,
        Ok(outcome) => failed_outcome(
            plan,
            MatchStatus::Error,
            format!(
                "the orchestrator's termination message is the outcome of another match ({:?})",
                outcome.match_id
            ),
            &[],
        ),
        Err(e) => failed_outcome(
            plan,
            MatchStatus::Error,
            format!(
                "the orchestrator finished but its result was lost: no report arrived and its termination \
                 message ({} bytes{}) is not a valid outcome: {e}",
                message.len(),
                if message.len() >= 4000 {
                    ", probably cut at the 4096-byte limit"
                } else {
                    ""
                }
            ),
            &[],
        ),
    }
}

/// Report address shown by `render-job` when none is configured.
const SAMPLE_REPORT_ADDRESS: &str = "http://rl-arena-executor.rl-arena:50051";

/// The Job and Secret YAML that `serve` would create for a sample pong match (`executor render-job`). The
/// token is the real one when a key file is configured, else a placeholder.
pub fn render_sample(args: &crate::config::RenderJobArgs) -> Result<String> {
    let settings = &args.serve.executor;
    let request = pb::MatchRequest {
        match_id: args.match_id.clone(),
        environment: "pong".into(),
        agents: args
            .agents
            .iter()
            .enumerate()
            .map(|(i, source)| {
                let (code_url, docker_image) = match source.strip_prefix("oci://") {
                    Some(image) => (String::new(), image.to_string()),
                    None => (source.clone(), String::new()),
                };
                pb::AgentData {
                    agent_id: format!("agent-{}", i + 1),
                    code_url,
                    docker_image,
                    ..Default::default()
                }
            })
            .collect(),
        seed: 1,
        record_replay: true,
        ..Default::default()
    };
    let plan = crate::request::plan(&request, settings)?;
    let k = &settings.kubernetes;
    let address = k
        .report_address
        .clone()
        .unwrap_or_else(|| SAMPLE_REPORT_ADDRESS.to_string());
    let token = match &k.report_token_key_file {
        Some(path) => ReportKey::load(path)?.token(&plan.match_id),
        None => "hex(HMAC-SHA256(report-token-key, match_id))".to_string(),
    };
    let objects = JobSettings::new(k, &address)?.build(
        &plan,
        &crate::matches::fingerprint(&request),
        &token,
    )?;
    job::render_yaml(&objects)
}

/// The reconciler: adopts Jobs nobody waits for on this replica (so results of matches whose waiter is gone
/// are still recorded) and runs the janitor for finished Jobs the TTL controller left behind.
async fn reconcile(backend: std::sync::Weak<KubernetesBackend>) {
    let (mut changes, tracker) = match backend.upgrade() {
        Some(b) => (b.tracker.subscribe_all(), Arc::clone(&b.tracker)),
        None => return,
    };
    tracker.ready().await;
    let mut adopted: HashSet<String> = HashSet::new();
    let mut janitor = tokio::time::interval(JANITOR_EVERY);
    loop {
        let Some(backend) = backend.upgrade() else {
            return;
        };
        let jobs = backend.tracker.jobs();
        let names: HashSet<String> = jobs.iter().map(|j| j.name_any()).collect();
        adopted.retain(|n| names.contains(n));
        for job in &jobs {
            let name = job.name_any();
            let Some(match_id) = job.labels().get(job::MATCH_ID_LABEL).cloned() else {
                continue;
            };
            if !adopted.contains(&name) && !backend.is_waiting(&match_id) {
                adopted.insert(name.clone());
                tokio::spawn(Arc::clone(&backend).adopt(name, match_id));
            }
        }
        let stale_after = backend.timing.ttl * 2;
        let tick = {
            let janitor_backend = Arc::clone(&backend);
            async move {
                for job in janitor_backend.tracker.jobs() {
                    if is_finished(&job) && finished_for(&job) > stale_after {
                        let name = job.name_any();
                        tracing::info!(job = %name, "janitor: deleting a finished Job past twice its TTL");
                        if let Err(e) = janitor_backend.api.delete_background(&name).await {
                            tracing::warn!(job = %name, error = %e, "janitor: delete failed");
                        }
                    }
                }
            }
        };
        drop(backend);
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = janitor.tick() => tick.await,
        }
    }
}

/// How long ago a Job finished.
fn finished_for(job: &Job) -> Duration {
    let finished = job.status.as_ref().and_then(|s| {
        s.completion_time.as_ref().map(|t| t.0).or_else(|| {
            s.conditions
                .as_ref()?
                .iter()
                .filter(|c| c.status == "True")
                .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
                .max()
        })
    });
    finished
        .and_then(|t| (Utc::now() - t).to_std().ok())
        .unwrap_or_default()
}
