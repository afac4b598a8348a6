//! Answers for matches that no waiter on this replica follows (they were submitted to another replica, or
//! that replica is gone): their state from the shared Job store, their result once recorded, and cancel.

use std::sync::Arc;
use std::time::Duration;

use proto::outcome::MatchStatus;

use super::KubernetesBackend;
use super::meta::JobMeta;
use super::names::job_name;
use crate::error::Result;
use crate::info::{MatchInfo, MatchState};
use crate::live::StopReason;
use crate::result_store::StoredMatch;

impl KubernetesBackend {
    /// The state of a match whose Job exists but that no waiter on this replica follows: queued until its pod
    /// exists, then running.
    pub(crate) fn info_elsewhere(&self, match_id: &str) -> Option<MatchInfo> {
        let job = self.tracker.job(&job_name(match_id))?;
        let meta = JobMeta::of(&job).filter(|m| m.match_id == match_id)?;
        let state = if self.tracker.pods(match_id).is_empty() {
            MatchState::Queued
        } else {
            MatchState::Running
        };
        Some(MatchInfo {
            match_id: meta.match_id,
            state,
            result: None,
            current_step: 0,
            environment: meta.submitted.environment,
            agent_ids: meta.submitted.agent_ids,
        })
    }

    /// Waits for the recorded result of a match followed elsewhere: every change of its Job or pod (and the
    /// Job's removal at its TTL) looks again in the shared result store. `None` when the Job is gone without
    /// a recorded result.
    pub(crate) async fn result_elsewhere(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        let mut changes = self.tracker.subscribe(match_id);
        loop {
            if let Some(stored) = self.recorder.get(match_id).await? {
                return Ok(Some(stored));
            }
            if self.tracker.job(&job_name(match_id)).is_none() || changes.changed().await.is_err() {
                return self.recorder.get(match_id).await;
            }
        }
    }

    /// Cancels a match waited for on another replica (or on none): records it cancelled, then deletes its
    /// Job. `None` when there is no such Job.
    pub(crate) async fn cancel_elsewhere(&self, match_id: &str) -> Result<Option<MatchInfo>> {
        let name = job_name(match_id);
        let job = match self.tracker.job(&name) {
            Some(job) => job,
            None => match self.api.get(&name).await? {
                Some(job) => Arc::new(job),
                None => return Ok(None),
            },
        };
        let Some(meta) = JobMeta::of(&job).filter(|m| m.match_id == match_id) else {
            return Ok(None);
        };
        tracing::info!(match_id, job = %name, "cancelling a match waited for elsewhere");
        // Recorded before the Job is deleted: the first result recorded is final, so the report of the
        // orchestrator the deletion stops (which cannot know why it was stopped) does not replace it, and a
        // result recorded earlier (the match ended) stays.
        let mut outcome = self.unreported(
            &meta.entrants(),
            Some(&job),
            MatchStatus::Cancelled,
            String::new(),
            &[],
        );
        StopReason::Request.settle(&mut outcome, Duration::ZERO);
        let stored = self.recorder.record(&meta.submitted, outcome, None).await?;
        self.api.delete(&name).await?;
        Ok(Some(stored.info()))
    }
}
