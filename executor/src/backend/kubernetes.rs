//! The Kubernetes backend: one Job per match, tracked through shared watches, idempotent and stateless.
//!
//! - [`job`]: the one function that builds a match's Job and Secret (also `executor render-job`, see
//!   `sample`); `meta`: what a Job's labels and annotations say about its match.
//! - `names`: the deterministic Job name of a match id (`match-<id>`); `sizing`: a match pod's memory and
//!   the room for the orchestrator's termination message.
//! - `api`: the few API calls a match makes (create-or-attach, get, delete), with retries and a field manager.
//! - `tracker`: one watcher per kind (Jobs, Pods) feeding reflector stores; waiters are woken per match.
//! - `diagnose`: Job and pod status to a verdict (running, produced a result, failed with a precise cause).
//! - `waiter`: waits for a match played here and settles its verdict into an outcome; `termination` reads
//!   the orchestrator's termination message when no report arrived.
//! - `elsewhere`: answers for matches that other replicas (or none) wait for: lookup, result, cancel.
//! - `reconciler`: records finished matches nobody waits for, and the janitor of old finished Jobs.
//! - `sink`: where reports for any match go, whichever replica receives them.
//!
//! A match's result comes from the orchestrator's report stream, recorded by whichever replica received it
//! ([`crate::reporter`]), else from the `match-orchestrator` termination message. Any replica can wait for
//! any match: the Job is found by name, the result in the shared result store, and the reconciler records
//! matches that finished while nobody waited. Results are written through the shared `Recorder` only; a
//! waiter's `Claim` keeps the reconciler from recording a match the waiter will record.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::Tools;
use crate::agent_sources::AgentSources;
use crate::config::ExecutorArgs;
use crate::error::{Error, Result};
use crate::recorder::Recorder;
use crate::reporter::{ReportHub, ReportKey};
use crate::request::MatchPlan;

mod api;
mod diagnose;
mod elsewhere;
pub mod job;
mod meta;
mod names;
mod reconciler;
mod sample;
mod sink;
mod sizing;
mod termination;
mod tracker;
mod waiter;

#[cfg(test)]
mod tests;

pub use api::{Attached, JobApi};
pub use job::{JobSettings, MatchObjects};
pub(crate) use names::job_name;
pub use sample::render_sample;
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
    // Created owned by its Job, never changed: no patch, and no delete (the owner goes with its Job).
    ("", "secrets", "create"),
    ("", "events", "list"),
    ("", "events", "watch"),
];

/// Time the executor waits for its first list of Jobs and pods before serving anyway.
const WATCH_READY_WAIT: Duration = Duration::from_secs(30);
/// Why `ValidateAgent` plays no smoke match here.
pub(super) const NO_SMOKE_MATCH: &str = "smoke match skipped: this executor plays matches as Kubernetes Jobs, \
                                         not on its own machine; the checks above only read the code";

/// Timing of the backend, from the configuration.
#[derive(Debug, Clone)]
struct Timing {
    /// How long a pod may stay unschedulable.
    startup_budget: Duration,
    /// How long a container may wait in a reason the kubelet retries.
    transient_grace: Duration,
    /// How long past a match's budget the stopped orchestrator may take to report.
    deadline_slack: Duration,
    /// How long a finished Job nobody waits for may stay unrecorded before this replica records it.
    adopt_grace: Duration,
    /// `ttlSecondsAfterFinished`; the janitor deletes finished Jobs older than twice this.
    ttl: Duration,
}

/// Plays matches as Kubernetes Jobs.
#[derive(Debug)]
pub(crate) struct KubernetesBackend {
    api: JobApi,
    tracker: Arc<Tracker>,
    settings: JobSettings,
    key: ReportKey,
    timing: Timing,
    hub: Arc<ReportHub>,
    recorder: Arc<Recorder>,
    /// Match ids waited for on this replica; the reconciler leaves them to their waiter.
    waiting: Arc<Mutex<HashSet<String>>>,
    /// The helper programs `ValidateAgent` runs in the executor itself.
    tools: Tools,
}

/// A match waited for on this replica, from the start of its wait until it is recorded: the reconciler
/// leaves it alone while the claim lives.
#[derive(Debug)]
pub(crate) struct Claim {
    waiting: Arc<Mutex<HashSet<String>>>,
    match_id: String,
}

impl KubernetesBackend {
    /// Connects to the cluster (in-cluster config, else the kubeconfig), starts the watches, the reconciler
    /// and the janitor, and waits a while for the watches' first lists.
    pub(crate) async fn connect(
        settings: &ExecutorArgs,
        tools: Tools,
        sources: &AgentSources,
        hub: &Arc<ReportHub>,
        recorder: &Arc<Recorder>,
    ) -> Result<Arc<Self>> {
        let k = &settings.kubernetes;
        let report_address = k.report_address.clone().unwrap_or_default();
        let key_file = k.report_token_key_file.clone().unwrap_or_default();
        let job_settings = JobSettings::new(k, &report_address)?.allowing(sources);
        let key = ReportKey::load(&key_file).await?;
        let client = kube::Client::try_default().await.map_err(|e| {
            Error::InvalidConfig(format!(
                "kubernetes client: {e}; run inside a cluster or point KUBECONFIG at a kubeconfig"
            ))
        })?;
        let backend = Arc::new(Self {
            api: JobApi::new(client.clone(), &job_settings.namespace),
            tracker: Tracker::start(client, &job_settings.namespace),
            settings: job_settings,
            key,
            timing: Timing {
                startup_budget: Duration::from_secs(k.k8s_startup_budget_sec),
                transient_grace: Duration::from_secs(k.k8s_transient_grace_sec),
                deadline_slack: Duration::from_secs(k.k8s_deadline_slack_sec),
                adopt_grace: Duration::from_secs(k.k8s_adopt_grace_sec),
                ttl: Duration::from_secs(u64::from(k.k8s_ttl_sec)),
            },
            hub: Arc::clone(hub),
            recorder: Arc::clone(recorder),
            waiting: Arc::default(),
            tools,
        });
        tokio::spawn(reconciler::reconcile(Arc::downgrade(&backend)));
        if tokio::time::timeout(WATCH_READY_WAIT, backend.tracker.ready())
            .await
            .is_err()
        {
            tracing::warn!("the Job and pod watches have not listed yet; serving anyway");
        }
        tracing::info!(namespace = %k.k8s_namespace, report_address = %report_address, "kubernetes backend ready");
        Ok(backend)
    }

    pub(super) fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Creates the match's Job, or checks that the Job with its name was made by the same request.
    pub(super) async fn create_or_attach(
        &self,
        plan: &MatchPlan,
        fingerprint: &str,
    ) -> Result<Attached> {
        let name = names::job_name(&plan.match_id);
        let objects = self
            .settings
            .build(plan, fingerprint, &self.key.token(&plan.match_id))?;
        if let Some(job) = self.tracker.job(&name) {
            return self
                .api
                .attach(&job, &objects, &plan.match_id, fingerprint)
                .await;
        }
        let attached = self
            .api
            .create_or_attach(&objects, &plan.match_id, fingerprint)
            .await?;
        tracing::info!(match_id = %plan.match_id, job = %name, created = matches!(attached, Attached::Created(_)), "match job");
        Ok(attached)
    }

    /// Deletes the Job of a match cancelled before it started; the caller records the match.
    pub(super) async fn withdraw(&self, match_id: &str) {
        if let Err(e) = self.api.delete(&names::job_name(match_id)).await {
            tracing::warn!(match_id, error = %e, "deleting the match Job failed");
        }
    }

    /// Marks a match as waited for on this replica while the claim lives.
    fn claim(&self, match_id: &str) -> Claim {
        lock(&self.waiting).insert(match_id.to_string());
        Claim {
            waiting: Arc::clone(&self.waiting),
            match_id: match_id.to_string(),
        }
    }

    fn is_waiting(&self, match_id: &str) -> bool {
        lock(&self.waiting).contains(match_id)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.waiting).remove(&self.match_id);
    }
}

fn lock(waiting: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    waiting.lock().unwrap_or_else(PoisonError::into_inner)
}
