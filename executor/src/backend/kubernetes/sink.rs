//! Where reports go in a cluster: a report may reach any replica, which verifies its token with the shared key
//! and records the outcome and replay (with the request's fingerprint and agents from the Job's annotations)
//! before the stream is acknowledged.

use std::sync::Arc;

use proto::outcome::MatchOutcome;

use super::KubernetesBackend;
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
        let name = job_name(match_id);
        let job = match self.tracker.job(&name) {
            Some(job) => job,
            None => Arc::new(self.api.get(&name).await?.ok_or_else(|| {
                Error::NotFound(format!("no Job {name} for the reported match {match_id}"))
            })?),
        };
        let meta = JobMeta::of(&job).ok_or_else(|| {
            Error::Internal(format!("Job {name} lacks the executor's annotations"))
        })?;
        self.recorder
            .record(&meta.submitted, outcome, replay)
            .await
            .map(drop)
    }
}
