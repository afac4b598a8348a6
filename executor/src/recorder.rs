//! The one owner of finished matches, for both backends: it stores each match's replay (with its viewer) and
//! then its result, fills the replay's URLs and digest into the result, and reads results and replay files
//! back. Nothing else writes the replay or the result store.
//!
//! Two ways to record, by who hands the result over: [`Recorder::finish`] for the waiter of a match on this
//! replica, which answers its clients whatever happens to the stores, and [`Recorder::record`] for everyone
//! else (a report stream, a canceller, the Kubernetes reconciler), which fails so that the caller can say so
//! (a report stream is then retried).

use std::sync::Arc;

use proto::outcome::MatchOutcome;

use crate::error::Result;
use crate::info::{MatchResult, ReplayLinks, Submitted};
use crate::metrics::Metrics;
use crate::replay_store::ReplayStore;
use crate::result_store::{ResultStore, StoredMatch};

/// Replays and results of finished matches.
#[derive(Debug)]
pub(crate) struct Recorder {
    replays: ReplayStore,
    results: ResultStore,
    metrics: Arc<Metrics>,
}

impl Recorder {
    pub(crate) fn new(replays: ReplayStore, results: ResultStore, metrics: Arc<Metrics>) -> Self {
        Self {
            replays,
            results,
            metrics,
        }
    }

    /// Records a match its waiter on this replica played; the match is answered with the returned result
    /// even when the stores fail: a replay that cannot be stored is noted in the result's message, a result
    /// that cannot be stored is logged.
    pub(crate) async fn finish(
        &self,
        submitted: &Submitted,
        outcome: MatchOutcome,
        replay: Option<&[u8]>,
    ) -> StoredMatch {
        let mut result = MatchResult::new(outcome);
        if let Some(json) = replay {
            if let Err(e) = self.attach_replay(&mut result, json).await {
                tracing::error!(match_id = %result.outcome.match_id, error = %e, "storing the replay failed");
                if result.outcome.error_message.is_empty() {
                    result.outcome.error_message = format!("replay not stored: {e}");
                }
            }
        }
        let stored = StoredMatch {
            submitted: submitted.clone(),
            result,
        };
        if let Err(e) = self.results.put(&stored).await {
            tracing::error!(match_id = %stored.result.outcome.match_id, error = %e, "storing the result failed");
        }
        stored
    }

    /// Records a match nobody waits for here; fails when the replay or the result cannot be stored.
    pub(crate) async fn record(
        &self,
        submitted: &Submitted,
        outcome: MatchOutcome,
        replay: Option<&[u8]>,
    ) -> Result<StoredMatch> {
        let mut result = MatchResult::new(outcome);
        if let Some(json) = replay {
            self.attach_replay(&mut result, json).await?;
        }
        let stored = StoredMatch {
            submitted: submitted.clone(),
            result,
        };
        self.results.put(&stored).await?;
        Ok(stored)
    }

    /// The recorded result of a match.
    pub(crate) async fn get(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        self.results.get(match_id).await
    }

    /// A stored replay file by its file name (for the HTTP endpoint).
    pub(crate) async fn replay_file(&self, file: &str) -> Result<Option<Vec<u8>>> {
        self.replays.get(file).await
    }

    /// Stores the replay and points the result at it; the only place replay URLs enter a result.
    async fn attach_replay(&self, result: &mut MatchResult, json: &[u8]) -> Result<()> {
        let stored = self.replays.put(&result.outcome.match_id, json).await?;
        self.metrics.replay_stored(stored.stored_bytes);
        result.outcome.replay_sha256 = Some(stored.sha256);
        result.replay = Some(ReplayLinks {
            json_url: stored.json_url,
            html_url: stored.html_url,
        });
        Ok(())
    }
}
