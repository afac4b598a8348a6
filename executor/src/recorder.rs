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

#[cfg(test)]
mod tests {
    use proto::outcome::MatchStatus;
    use sha2::Digest;

    use super::*;
    use crate::blob_store::BlobStore;
    use crate::info::Entrants;

    /// A recorder on a file store in `dir`, keeping replays of at most `limit` bytes.
    fn recorder(dir: &Path, limit: u64) -> Recorder {
        let blobs = BlobStore::local(dir).unwrap();
        Recorder::new(
            ReplayStore::new(blobs.clone(), None, false),
            ResultStore::new(blobs),
            Arc::new(Metrics::new()),
            limit,
        )
    }

    fn submitted() -> Submitted {
        Submitted {
            fingerprint: "fp".into(),
            environment: "rps".into(),
            agent_ids: vec!["a".into(), "b".into()],
        }
    }

    /// A played match `match_id` whose orchestrator reported `digest` for its replay.
    fn played(match_id: &str, digest: Option<String>) -> MatchOutcome {
        let mut outcome = Entrants {
            match_id,
            seed: 1,
            agent_ids: vec!["a", "b"],
        }
        .failed(MatchStatus::Success, "");
        outcome.total_steps = 3;
        outcome.replay_sha256 = digest;
        outcome
    }

    #[tokio::test]
    async fn a_replay_is_stored_only_whole_and_the_result_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = recorder(&dir.path().join("store"), 64);
        let whole = br#"{"steps":[1,2,3]}"#;
        let file = dir.path().join("replay.json");
        std::fs::write(&file, whole).unwrap();
        let digest = hex::encode(sha2::Sha256::digest(whole));
        let cut = hex::encode(sha2::Sha256::digest(&whole[..10]));
        let big = dir.path().join("big.json");
        std::fs::write(&big, [b' '; 65]).unwrap();
        let big_digest = hex::encode(sha2::Sha256::digest([b' '; 65]));
        let cases = [
            (
                "whole",
                Some(digest.clone()),
                Replay::file(file.clone()),
                None,
            ),
            (
                "cut",
                Some(cut),
                Replay::file(file.clone()),
                Some(
                    "the replay file is not the document the orchestrator reported (its SHA-256 differs): it \
                     is cut or changed",
                ),
            ),
            (
                "undigested",
                None,
                Replay::file(file.clone()),
                Some(
                    "the orchestrator reported no digest of its replay, so it cannot be known whole",
                ),
            ),
            (
                "big",
                Some(big_digest),
                Replay::file(big),
                Some(
                    "the replay is 65 bytes, over this executor's replay limit of 64 bytes (max-replay-bytes)",
                ),
            ),
            (
                "unwritten",
                Some(digest.clone()),
                Replay::file(dir.path().join("missing.json")),
                Some("the replay file cannot be read"),
            ),
            (
                "missing",
                Some(digest.clone()),
                Replay::Missing("the orchestrator wrote no replay file".into()),
                Some("the orchestrator wrote no replay file"),
            ),
        ];
        for (match_id, reported, replay, refused) in cases {
            let stored = recorder
                .record(&submitted(), played(match_id, reported), Some(replay))
                .await
                .unwrap();
            let result = &stored.result;
            let json = dir.path().join(format!("store/replays/{match_id}.json"));
            match refused {
                None => {
                    assert_eq!(result.replay_error, None, "{match_id}");
                    assert_eq!(result.outcome.replay_sha256.as_ref(), Some(&digest));
                    assert_eq!(std::fs::read(&json).unwrap(), whole);
                    assert!(result.replay.is_some());
                }
                Some(why) => {
                    let error = result.replay_error.as_deref().unwrap_or_default();
                    assert!(error.starts_with(why), "{match_id}: {error}");
                    assert_eq!(
                        result.outcome.error_message,
                        format!("replay not stored: {error}"),
                        "{match_id}"
                    );
                    assert_eq!(result.outcome.replay_sha256, None, "{match_id}");
                    assert_eq!(result.replay, None, "{match_id}");
                    assert!(!json.exists(), "{match_id}: nothing cut is stored");
                }
            }
            // What was recorded is what the store answers.
            assert_eq!(
                recorder.get(match_id).await.unwrap().as_ref(),
                Some(&stored)
            );
        }
    }

    #[tokio::test]
    async fn a_second_record_of_a_match_gets_the_first_back() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = recorder(dir.path(), 1024);
        let first = recorder
            .record(&submitted(), played("m", None), None)
            .await
            .unwrap();
        let mut cancelled = played("m", None);
        cancelled.status = MatchStatus::Cancelled;
        let again = recorder.finish(&submitted(), cancelled, None).await;
        assert_eq!(again, first);
        assert_eq!(recorder.get("m").await.unwrap(), Some(first));
    }
}
