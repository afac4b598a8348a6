//! Where reports go in a cluster: a report may reach any replica, which verifies its token with the shared key
//! and records the outcome and replay (with the request's fingerprint and agents from the Job's annotations)
//! before the stream is acknowledged.
//!
//! The first result recorded for a match is final: a report that arrives after the match was recorded (a
//! cancelled or timed-out match whose stopped orchestrator still reports) is acknowledged and dropped. The
//! report of an orchestrator that its Job stopped at the match's budget says "cancelled"; it is recorded as
//! the timeout it is, with what was played until then.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use proto::outcome::{MatchOutcome, MatchStatus};

use super::KubernetesBackend;
use super::diagnose::deadline_exceeded;
use super::meta::JobMeta;
use super::names::job_name;
use crate::error::{Error, Result};
use crate::recorder::Replay;
use crate::reporter::ReportSink;

#[tonic::async_trait]
impl ReportSink for KubernetesBackend {
    fn verify(&self, match_id: &str, token: &str) -> bool {
        self.key.verify(match_id, token)
    }

    async fn record(
        &self,
        match_id: &str,
        outcome: MatchOutcome,
        replay: Option<Replay>,
    ) -> Result<()> {
        if self.recorder.get(match_id).await?.is_some() {
            tracing::info!(
                match_id,
                "a report arrived after the match was recorded; the first result stays"
            );
            return Ok(());
        }
        let name = job_name(match_id);
        let job = match self.tracker.job(&name) {
            // A stopped orchestrator's report may outrun the watch: read the Job's state afresh.
            Some(job) if outcome.status != MatchStatus::Cancelled => job,
            _ => Arc::new(self.api.get(&name).await?.ok_or_else(|| {
                Error::NotFound(format!("no Job {name} for the reported match {match_id}"))
            })?),
        };
        let meta = JobMeta::of(&job).ok_or_else(|| {
            Error::Internal(format!("Job {name} lacks the executor's annotations"))
        })?;
        let outcome = stopped_by_deadline(&job, outcome);
        self.recorder
            .record(&meta.submitted, outcome, replay)
            .await
            .map(drop)
    }
}

/// A cancelled outcome of a Job that its deadline stopped becomes a timeout.
fn stopped_by_deadline(job: &Job, mut outcome: MatchOutcome) -> MatchOutcome {
    if outcome.status == MatchStatus::Cancelled {
        if let Some(message) = deadline_exceeded(job) {
            outcome.status = MatchStatus::Timeout;
            outcome.error_message = format!("{message}; the result is what was played until then");
        }
    }
    outcome
}
