//! The one owner of finished matches, for both backends: it stores each match's replay (with its viewer) and
//! then its result, fills the replay's URLs and digest into the result, and reads results and replay files
//! back. Nothing else writes the replay or the result store.
//!
//! A replay is stored only whole: its file must be the document the orchestrator reported (the digest in the
//! outcome) and within the replay limit; otherwise, or when there is none although one was asked for, the
//! result says why in `replay_error` (and, for a match that played, in its message).
//!
//! Two ways to record, by who hands the result over: [`Recorder::finish`] for the waiter of a match on this
//! replica, which answers its clients whatever happens to the stores, and [`Recorder::record`] for everyone
//! else (a report stream, a canceller, the Kubernetes reconciler), which fails so that the caller can say so
//! (a report stream is then retried).
//!
//! The first result recorded for a match is final: the result is created only where none exists (one
//! conditional write, see [`ResultStore::create`]), and a writer that comes second gets the first result
//! back. Callers skip the replay when they find a result already; one that races past that check may leave a
//! replay file no result points at, never a result whose replay is another's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proto::outcome::{MatchOutcome, MatchStatus};

use crate::blob_store::Download;
use crate::error::Result;
use crate::info::{MatchResult, ReplayLinks, Submitted};
use crate::metrics::Metrics;
use crate::replay_store::{self, ReplayStore};
use crate::result_store::{ResultStore, StoredMatch};

/// The replay a backend hands over with a match's outcome when the request asked for one.
#[derive(Debug)]
pub(crate) enum Replay {
    /// A file holding the replay: the orchestrator's own, or the copy a report stream carried (removed when
    /// this is dropped).
    File {
        path: PathBuf,
        _spooled: Option<tempfile::TempPath>,
    },
    /// There is none, and why.
    Missing(String),
}

impl Replay {
    /// The replay in the file at `path`.
    pub(crate) fn file(path: PathBuf) -> Self {
        Self::File {
            path,
            _spooled: None,
        }
    }

    /// The replay in a temporary file, removed once it is recorded.
    pub(crate) fn spooled(path: tempfile::TempPath) -> Self {
        Self::File {
            path: path.to_path_buf(),
            _spooled: Some(path),
        }
    }

    /// For a match that ended before it was played: `None` unless the request asked for a replay.
    pub(crate) fn unplayed(asked: bool) -> Option<Self> {
        asked.then(|| Self::Missing("the match ended before it was played".into()))
    }
}

/// Replays and results of finished matches.
#[derive(Debug)]
pub(crate) struct Recorder {
    replays: ReplayStore,
    results: ResultStore,
    metrics: Arc<Metrics>,
    /// Largest replay stored, in bytes.
    max_replay_bytes: u64,
}

impl Recorder {
    pub(crate) fn new(
        replays: ReplayStore,
        results: ResultStore,
        metrics: Arc<Metrics>,
        max_replay_bytes: u64,
    ) -> Self {
        Self {
            replays,
            results,
            metrics,
            max_replay_bytes,
        }
    }

    /// Records a match its waiter on this replica played; the match is answered with the returned result (the
    /// one recorded first) even when the stores fail: a replay that cannot be stored is said in the result, a
    /// result that cannot be stored is logged.
    pub(crate) async fn finish(
        &self,
        submitted: &Submitted,
        outcome: MatchOutcome,
        replay: Option<Replay>,
    ) -> StoredMatch {
        let mut result = MatchResult::new(outcome);
        if let Some(replay) = replay {
            if let Err(e) = self.attach_replay(&mut result, replay).await {
                tracing::error!(match_id = %result.outcome.match_id, error = %e, "storing the replay failed");
                not_stored(&mut result, format!("storing it failed: {e}"));
            }
        }
        let stored = StoredMatch {
            submitted: submitted.clone(),
            result,
        };
        match self.results.create(stored.clone()).await {
            Ok(first) => first,
            Err(e) => {
                tracing::error!(match_id = %stored.result.outcome.match_id, error = %e, "storing the result failed");
                stored
            }
        }
    }

    /// Records a match nobody waits for here and returns the result recorded first; fails when the replay or
    /// the result cannot be stored.
    pub(crate) async fn record(
        &self,
        submitted: &Submitted,
        outcome: MatchOutcome,
        replay: Option<Replay>,
    ) -> Result<StoredMatch> {
        let mut result = MatchResult::new(outcome);
        if let Some(replay) = replay {
            self.attach_replay(&mut result, replay).await?;
        }
        self.results
            .create(StoredMatch {
                submitted: submitted.clone(),
                result,
            })
            .await
    }

    /// The recorded result of a match.
    pub(crate) async fn get(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        self.results.get(match_id).await
    }

    /// A stored replay file by its file name (for the HTTP endpoint), to stream.
    pub(crate) async fn replay_file(&self, file: &str) -> Result<Option<Download>> {
        self.replays.get(file).await
    }

    /// Stores the replay when it is whole and points the result at it, or says in the result why it is not
    /// stored; the only place replay URLs enter a result. Fails only when the stores do.
    async fn attach_replay(&self, result: &mut MatchResult, replay: Replay) -> Result<()> {
        let path = match &replay {
            Replay::Missing(why) => {
                not_stored(result, why.clone());
                return Ok(());
            }
            Replay::File { path, .. } => path,
        };
        match self.check(&result.outcome, path).await? {
            Err(why) => not_stored(result, why),
            Ok(digest) => {
                let stored = self
                    .replays
                    .put_file(&result.outcome.match_id, path)
                    .await?;
                self.metrics.replay_stored(stored.stored_bytes);
                result.outcome.replay_sha256 = Some(digest);
                result.replay = Some(ReplayLinks {
                    json_url: stored.json_url,
                    html_url: stored.html_url,
                });
            }
        }
        Ok(())
    }

    /// The digest of the replay file when it may be stored: it is exactly the document whose digest the
    /// orchestrator reported, and within the limit. `Err` says why not.
    async fn check(
        &self,
        outcome: &MatchOutcome,
        path: &Path,
    ) -> Result<std::result::Result<String, String>> {
        let Some(reported) = &outcome.replay_sha256 else {
            return Ok(Err(
                "the orchestrator reported no digest of its replay, so it cannot be known whole"
                    .into(),
            ));
        };
        let (digest, size) = match replay_store::digest(path).await {
            Ok(found) => found,
            Err(e) => return Ok(Err(format!("the replay file cannot be read: {e}"))),
        };
        if size > self.max_replay_bytes {
            return Ok(Err(format!(
                "the replay is {size} bytes, over this executor's replay limit of {} bytes (max-replay-bytes)",
                self.max_replay_bytes
            )));
        }
        if digest != *reported {
            return Ok(Err(
                "the replay file is not the document the orchestrator reported (its SHA-256 differs): it is cut \
                 or changed"
                    .into(),
            ));
        }
        Ok(Ok(digest))
    }
}

/// Says in a result why its replay is not stored: in `replay_error`, and in the message of a match that
/// played and had a result (a failed match's message says what went wrong already, and one that never played
/// has nothing to replay).
fn not_stored(result: &mut MatchResult, why: String) {
    result.replay = None;
    result.outcome.replay_sha256 = None;
    let played = matches!(
        result.outcome.status,
        MatchStatus::Success | MatchStatus::Timeout
    ) && result.outcome.total_steps > 0;
    if played {
        let note = format!("replay not stored: {why}");
        let message = &mut result.outcome.error_message;
        if message.is_empty() {
            *message = note;
        } else {
            message.push_str("; ");
            message.push_str(&note);
        }
    }
    result.replay_error = Some(why);
}
