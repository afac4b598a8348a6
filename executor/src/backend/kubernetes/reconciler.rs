//! The reconciler: adopts Jobs nobody waits for on this replica, so that results of matches whose waiter is
//! gone are still recorded (after a grace period in which a waiter on any replica would have recorded them),
//! and runs the janitor for finished Jobs the TTL controller left behind.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::chrono::Utc;
use kube::ResourceExt;

use super::KubernetesBackend;
use super::diagnose::{Verdict, finished_for, is_finished};
use super::meta::{JobMeta, MATCH_ID_LABEL};
use super::waiter::{IDLE_WAIT, Settled};
use crate::error::Result;

/// How often the janitor looks (in the local store) for finished Jobs the TTL controller left behind.
const JANITOR_EVERY: Duration = Duration::from_secs(60);

/// Runs until the backend is dropped: on every change of the managed Jobs, adopts those nobody waits for here.
pub(super) async fn reconcile(backend: Weak<KubernetesBackend>) {
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
            let Some(match_id) = job.labels().get(MATCH_ID_LABEL).cloned() else {
                continue;
            };
            if !adopted.contains(&name) && !backend.is_waiting(&match_id) {
                adopted.insert(name.clone());
                tokio::spawn(Arc::clone(&backend).adopt(name, match_id));
            }
        }
        let tick = Arc::clone(&backend).sweep();
        drop(backend);
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = janitor.tick() => tick.await,
        }
    }
}

impl KubernetesBackend {
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
            let recheck = match self.verdict(&match_id, &job, &meta.submitted.agent_ids) {
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
                () = tokio::time::sleep(recheck.unwrap_or(IDLE_WAIT)) => {}
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
        if self.recorder.get(&meta.match_id).await?.is_some() {
            return Ok(());
        }
        let latest = self.tracker.job(name);
        let settled = self
            .settle(
                &meta.entrants(),
                name,
                latest.as_deref().or(Some(job)),
                verdict,
            )
            .await?;
        if let Settled::Outcome(outcome) = settled {
            tracing::info!(match_id = %meta.match_id, status = ?outcome.status, "recorded a match nobody waited for");
            self.recorder.record(&meta.submitted, outcome, None).await?;
        }
        Ok(())
    }

    /// The janitor's round: deletes finished managed Jobs older than twice the TTL.
    async fn sweep(self: Arc<Self>) {
        let stale_after = self.timing.ttl * 2;
        for job in self.tracker.jobs() {
            if is_finished(&job) && finished_for(&job, Utc::now()) > stale_after {
                let name = job.name_any();
                tracing::info!(job = %name, "janitor: deleting a finished Job past twice its TTL");
                if let Err(e) = self.api.delete_background(&name).await {
                    tracing::warn!(job = %name, error = %e, "janitor: delete failed");
                }
            }
        }
    }
}
