//! Waiting for a match played on this replica: its Job's verdict from the watches (never polling the API),
//! then settling the verdict into the outcome to record, or finding the result someone recorded already.
//!
//! A stopped match's orchestrator reports what was played: when the executor stops a match at its budget the
//! Job's own deadline stops its pod, so the waiter waits on for that verdict until its backstop (the budget
//! plus the slack); a cancelled match's Job is deleted and the waiter waits (at most the slack) for the
//! stopped pod, whose report is then the result.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::chrono::Utc;
use proto::outcome::{MatchOutcome, MatchStatus};

use super::KubernetesBackend;
use super::diagnose::{self, Verdict, is_finished};
use super::names::job_name;
use super::termination::from_termination_message;
use crate::backend::{Ending, Held, Played};
use crate::error::{Error, Result};
use crate::info::Entrants;
use crate::live::{LiveMatch, StopReason};
use crate::request::MatchPlan;
use crate::result_store::StoredMatch;

/// How long a waiter waits for the watch to show its Job before it asks the API whether it still exists.
const UNSEEN_JOB_WAIT: Duration = Duration::from_secs(3);
/// Longest wait without a change when no recheck is due.
pub(super) const IDLE_WAIT: Duration = Duration::from_secs(86_400);

/// A final verdict, settled.
pub(super) enum Settled {
    /// Someone (the report stream's receiver, a canceller) recorded the result already.
    Stored(StoredMatch),
    /// The outcome to record.
    Outcome(MatchOutcome),
}

impl KubernetesBackend {
    /// Waits for a match whose Job [`Self::create_or_attach`] made or found. Never fails: whatever goes wrong
    /// becomes the outcome. The match stays claimed until it is recorded.
    #[tracing::instrument(skip_all, fields(match_id = %plan.match_id))]
    pub(crate) async fn play(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> Played {
        let claim = self.claim(&plan.match_id);
        let _registration = self
            .hub
            .register_with_token(live, self.key.token(&plan.match_id));
        let ending = match self.wait_and_settle(plan, live).await {
            Ok(ending) => ending,
            Err(e) => Ending::Outcome {
                outcome: plan
                    .entrants()
                    .failed(MatchStatus::Error, format!("executor: {e}")),
                replay: None,
            },
        };
        Played {
            ending,
            held: Held {
                removal: None,
                _claim: Some(claim),
            },
        }
    }

    async fn wait_and_settle(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> Result<Ending> {
        let name = job_name(&plan.match_id);
        let entrants = plan.entrants();
        let agent_ids = plan.agent_ids();
        // The Job stops itself at the budget; this backstop answers in case the Job controller does not.
        let backstop = live.deadline() + self.timing.deadline_slack;
        let outcome = |outcome| Ending::Outcome {
            outcome,
            replay: None,
        };
        let wait = self.wait(&plan.match_id, &name, &agent_ids);
        tokio::pin!(wait);
        let waited = tokio::select! {
            waited = tokio::time::timeout_at(backstop, &mut wait) => waited.ok(),
            () = live.cancel_token().cancelled() => {
                if live.stop_reason() == Some(StopReason::Deadline) {
                    // The Job's own deadline stops its pod, whose report of what was played is the result:
                    // wait for that verdict until the backstop.
                    tokio::time::timeout_at(backstop, &mut wait).await.ok()
                } else {
                    let job = self.tracker.job(&name);
                    let cancelled = self.unreported(
                        &entrants,
                        job.as_deref(),
                        MatchStatus::Cancelled,
                        "cancelled".into(),
                        &[],
                    );
                    let recorded = self.cancel(&plan.match_id, &name, wait).await?;
                    return Ok(recorded.map_or_else(|| outcome(cancelled), Ending::Recorded));
                }
            }
        };
        let verdict = match waited {
            Some(Some(verdict)) => verdict,
            Some(None) => {
                // The Job is gone: cancelled elsewhere, or recorded and collected.
                if let Some(stored) = self.recorder.get(&plan.match_id).await? {
                    return Ok(Ending::Recorded(stored));
                }
                return Ok(outcome(entrants.failed(
                    MatchStatus::Error,
                    format!("the match Job {name} was deleted before the match recorded a result"),
                )));
            }
            None => {
                let job = self.tracker.job(&name);
                let timed_out = self.unreported(
                    &entrants,
                    job.as_deref(),
                    MatchStatus::Timeout,
                    format!(
                        "the match Job {name} did not end within the match's budget of {} s; it was deleted",
                        plan.timeout.as_secs()
                    ),
                    &[],
                );
                let _ = self.api.delete(&name).await;
                if let Some(stored) = self.recorder.get(&plan.match_id).await? {
                    return Ok(Ending::Recorded(stored));
                }
                return Ok(outcome(timed_out));
            }
        };
        let job = self.tracker.job(&name);
        Ok(
            match self
                .settle(&entrants, &name, job.as_deref(), verdict)
                .await?
            {
                Settled::Stored(stored) => Ending::Recorded(stored),
                Settled::Outcome(settled) => outcome(settled),
            },
        )
    }

    /// Stops a cancelled match: deletes its Job and waits (at most the slack) for the stopped pod to end, so
    /// that its orchestrator's report of what was played is recorded first. The recorded result, if any.
    async fn cancel(
        &self,
        match_id: &str,
        name: &str,
        ended: impl Future<Output = Option<Verdict>>,
    ) -> Result<Option<StoredMatch>> {
        tracing::info!("match cancelled; deleting its job");
        self.api.delete(name).await?;
        // Foreground deletion: the Job goes once its pod has ended, after the orchestrator's report.
        let _ = tokio::time::timeout(self.timing.deadline_slack, ended).await;
        // A result recorded before the cancel (the match ended, or its Job's deadline stopped it and the
        // orchestrator reported what was played) is final, and so is the stopped orchestrator's report.
        self.recorder.get(match_id).await
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
            let recheck = recheck.unwrap_or(IDLE_WAIT).min(IDLE_WAIT);
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return None },
                () = tokio::time::sleep(recheck) => {}
            }
        }
    }

    /// The pods of a match and the `FailedCreate` events of its Job, as the watches show them now.
    fn observed(&self, match_id: &str, job: Option<&Job>) -> (Vec<Arc<Pod>>, Vec<Arc<Event>>) {
        let events = job.map(|job| self.tracker.failed_creates(job));
        (self.tracker.pods(match_id), events.unwrap_or_default())
    }

    /// The outcome of a match that ended without a result from its orchestrator: `faults` charge agents (by
    /// seat), and the others are reported not started when none of them can have run.
    pub(super) fn unreported(
        &self,
        entrants: &Entrants<'_>,
        job: Option<&Job>,
        status: MatchStatus,
        message: String,
        faults: &[(usize, String)],
    ) -> MatchOutcome {
        let (pods, events) = self.observed(entrants.match_id, job);
        let pods: Vec<_> = pods.iter().map(AsRef::as_ref).collect();
        let events: Vec<_> = events.iter().map(AsRef::as_ref).collect();
        if diagnose::agents_never_ran(&pods, &events) {
            entrants.not_started_by(status, message, faults)
        } else {
            entrants.failed_by(status, message, faults)
        }
    }

    /// The verdict on a match from what the watches show now.
    pub(super) fn verdict(&self, match_id: &str, job: &Job, agent_ids: &[String]) -> Verdict {
        let (pods, events) = self.observed(match_id, Some(job));
        let pods: Vec<_> = pods.iter().map(AsRef::as_ref).collect();
        let events: Vec<_> = events.iter().map(AsRef::as_ref).collect();
        diagnose::diagnose(
            job,
            &pods,
            &events,
            &diagnose::Context {
                agent_ids,
                startup_budget: self.timing.startup_budget,
                transient_grace: self.timing.transient_grace,
                report_grace: self.timing.deadline_slack,
                now: Utc::now(),
            },
        )
    }

    /// Turns a final verdict into the recorded result or an outcome to record; stops pods of a failed match.
    pub(super) async fn settle(
        &self,
        entrants: &Entrants<'_>,
        name: &str,
        job: Option<&Job>,
        verdict: Verdict,
    ) -> Result<Settled> {
        let stored = self.recorder.get(entrants.match_id).await?;
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
                    entrants,
                    termination_message.as_deref(),
                    self.settings.result_max_bytes(entrants.agent_ids.len()),
                )))
            }
            Verdict::Failed {
                status,
                message,
                faults,
            } => {
                tracing::info!(status = ?status, message = %message, "match failed");
                let failed = self.unreported(entrants, job, status, message, &faults);
                if !job.is_some_and(is_finished) {
                    self.api.delete(name).await?;
                }
                // The first result recorded is final: a timed-out orchestrator's report of what was played
                // (recorded as a timeout, see `sink`), or a report that made it before the failure.
                if let Some(stored) = stored {
                    return Ok(Settled::Stored(stored));
                }
                Ok(Settled::Outcome(failed))
            }
        }
    }
}
