//! What a starting executor does with the work directories a previous run left behind (it was killed, or
//! crashed): it stops the processes still working in them, records each match (with the result and replay its
//! orchestrator wrote there, else as failed because the executor restarted) and removes the directories. A
//! repeated request then gets the recorded result instead of playing the match again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::outcome::{MatchOutcome, MatchStatus};
use serde::{Deserialize, Serialize};

use super::MatchFiles;
use crate::error::{Error, Result};
use crate::info::{Entrants, Submitted};
use crate::live::StopReason;
use crate::recorder::{Recorder, Replay};

/// Time the processes of a previous run get to end their matches and exit after SIGTERM (orchestrators got
/// one already when their executor died): time to stop the agents, write the result and replay, and give up
/// reporting.
const LEFTOVER_GRACE: Duration = Duration::from_secs(10);

/// What a work directory says about its match; written before anything else happens in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct WorkRecord {
    pub(super) match_id: String,
    pub(super) fingerprint: String,
    pub(super) environment: String,
    pub(super) agent_ids: Vec<String>,
    pub(super) seed: u64,
    pub(super) record_replay: bool,
}

impl WorkRecord {
    /// The name of the record in a work directory.
    pub(super) const FILE: &'static str = "match.json";

    fn submitted(&self) -> Submitted {
        Submitted {
            fingerprint: self.fingerprint.clone(),
            environment: self.environment.clone(),
            agent_ids: self.agent_ids.clone(),
        }
    }

    fn entrants(&self) -> Entrants<'_> {
        Entrants {
            match_id: &self.match_id,
            seed: self.seed,
            agent_ids: self.agent_ids.iter().map(String::as_str).collect(),
        }
    }
}

/// Adopts whatever a previous run left in `work_root`. A directory whose match cannot be recorded (the store
/// is down) is kept for the next start; everything else goes.
pub(super) async fn adopt_leftovers(work_root: &Path, recorder: &Recorder) -> Result<()> {
    let dirs = leftover_dirs(work_root).await?;
    if dirs.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        count = dirs.len(),
        "found work directories of a previous run; adopting them"
    );
    let stopped = crate::process::stop_working_in(work_root, LEFTOVER_GRACE).await;
    if stopped > 0 {
        tracing::warn!(processes = stopped, "stopped processes of a previous run");
    }
    for dir in dirs {
        match adopt(&dir, recorder).await {
            Ok(Some(status)) => {
                tracing::info!(dir = %dir.display(), ?status, "recorded a match of a previous run");
            }
            Ok(None) => {
                tracing::warn!(dir = %dir.display(), "a work directory without a match record; removing it");
            }
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e,
                    "recording a match of a previous run failed; its work directory is kept for the next start");
                continue;
            }
        }
        remove(dir).await;
    }
    Ok(())
}

/// The entries of `work_root`.
async fn leftover_dirs(work_root: &Path) -> Result<Vec<PathBuf>> {
    let listing = || Error::io(format!("listing {}", work_root.display()));
    let mut entries = tokio::fs::read_dir(work_root).await.map_err(listing())?;
    let mut dirs = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(listing())? {
        dirs.push(entry.path());
    }
    Ok(dirs)
}

/// Records the match of one work directory unless it is recorded already; `None` when the directory holds no
/// match record.
async fn adopt(dir: &Path, recorder: &Recorder) -> Result<Option<MatchStatus>> {
    let Some(work) = read_json::<WorkRecord>(&dir.join(WorkRecord::FILE)).await else {
        return Ok(None);
    };
    if let Some(stored) = recorder.get(&work.match_id).await? {
        return Ok(Some(stored.result.outcome.status));
    }
    let files = MatchFiles::in_dir(dir);
    let found = read_json::<MatchOutcome>(&files.result)
        .await
        .filter(|o| o.match_id == work.match_id);
    let outcome = match found {
        Some(mut outcome) => {
            // The orchestrator noticed its executor was gone and ended the match as cancelled.
            StopReason::Restart.settle(&mut outcome, Duration::ZERO);
            outcome
        }
        None if tokio::fs::try_exists(&files.spec).await.unwrap_or(false) => {
            work.entrants().failed(
                MatchStatus::Error,
                "the executor restarted during the match, which left no result",
            )
        }
        None => work.entrants().not_started(
            MatchStatus::Error,
            "the executor restarted before the match started",
        ),
    };
    let replay = work.record_replay.then(|| {
        if files.replay.is_file() {
            Replay::file(files.replay.clone())
        } else {
            Replay::Missing("the executor restarted before a replay was written".into())
        }
    });
    let status = outcome.status;
    recorder.record(&work.submitted(), outcome, replay).await?;
    Ok(Some(status))
}

async fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = tokio::fs::read(path).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Removes a directory or file of the work root, off the runtime's threads.
async fn remove(path: PathBuf) {
    let removed = tokio::task::spawn_blocking(move || {
        let result = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        (path, result)
    })
    .await;
    if let Ok((path, Err(e))) = removed {
        tracing::warn!(path = %path.display(), error = %e, "removing a leftover of a previous run failed");
    }
}
