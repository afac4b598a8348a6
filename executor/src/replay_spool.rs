//! The copy of a replay that a report stream carries, for matches whose orchestrator's own file is out of
//! reach (a Kubernetes pod): spooled to a temporary file as the chunks arrive, never kept in memory, and given
//! up (said in the result) when it grows past the limit.

use std::path::PathBuf;

use proto::outcome::MatchOutcome;
use tokio::io::AsyncWriteExt;

use crate::recorder::Replay;

/// Where spooled replays go and how large one may grow.
#[derive(Debug, Clone)]
pub(crate) struct SpoolSettings {
    /// A directory of the executor's own (emptied at start).
    pub(crate) dir: PathBuf,
    /// Largest replay copy kept, in bytes.
    pub(crate) cap: u64,
}

/// The replay of one report stream so far.
#[derive(Debug)]
pub(crate) struct Spool {
    settings: SpoolSettings,
    file: Option<(tokio::fs::File, tempfile::TempPath)>,
    bytes: u64,
    /// Why the copy was given up, once it was.
    given_up: Option<String>,
}

impl Spool {
    pub(crate) fn new(settings: SpoolSettings) -> Self {
        Self {
            settings,
            file: None,
            bytes: 0,
            given_up: None,
        }
    }

    /// Appends a chunk; past the cap, or when the disk fails, the copy is given up and its file removed.
    pub(crate) async fn write(&mut self, chunk: &[u8]) {
        if self.given_up.is_some() || chunk.is_empty() {
            return;
        }
        self.bytes += chunk.len() as u64;
        if self.bytes > self.settings.cap {
            self.give_up(format!(
                "the replay is larger than the {} bytes a report stream may carry",
                self.settings.cap
            ));
            return;
        }
        if let Err(e) = self.append(chunk).await {
            self.give_up(format!("spooling the replay failed: {e}"));
        }
    }

    async fn append(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            let dir = self.settings.dir.clone();
            let temp = tokio::task::spawn_blocking(move || {
                tempfile::Builder::new().prefix("replay-").tempfile_in(dir)
            })
            .await
            .map_err(std::io::Error::other)??;
            let (file, path) = temp.into_parts();
            self.file = Some((tokio::fs::File::from_std(file), path));
        }
        if let Some((file, _)) = &mut self.file {
            file.write_all(chunk).await?;
        }
        Ok(())
    }

    fn give_up(&mut self, why: String) {
        tracing::warn!(reason = %why, "replay copy of a report stream given up");
        self.file = None;
        self.given_up = Some(why);
    }

    /// The replay to record with `outcome`: the spooled file, why there is none, or `None` when the match
    /// recorded no replay.
    pub(crate) async fn finish(mut self, outcome: &MatchOutcome) -> Option<Replay> {
        if let Some(why) = self.given_up.take() {
            return Some(Replay::Missing(why));
        }
        match self.file.take() {
            Some((mut file, path)) => match file.flush().await {
                Ok(()) => Some(Replay::spooled(path)),
                Err(e) => Some(Replay::Missing(format!("spooling the replay failed: {e}"))),
            },
            None if outcome.replay_sha256.is_some() => Some(Replay::Missing(
                "the report stream carried no replay".into(),
            )),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proto::outcome::MatchStatus;

    use super::*;
    use crate::info::Entrants;

    fn outcome(digest: Option<&str>) -> MatchOutcome {
        let mut outcome = Entrants {
            match_id: "m",
            seed: 1,
            agent_ids: vec!["a"],
        }
        .failed(MatchStatus::Success, "");
        outcome.replay_sha256 = digest.map(str::to_string);
        outcome
    }

    fn settings(dir: &std::path::Path, cap: u64) -> SpoolSettings {
        SpoolSettings {
            dir: dir.to_path_buf(),
            cap,
        }
    }

    #[tokio::test]
    async fn chunks_go_to_a_file_that_goes_with_the_replay() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(settings(dir.path(), 100));
        spool.write(b"{\"a\":").await;
        spool.write(b"1}").await;
        let replay = spool.finish(&outcome(Some("d"))).await;
        let Some(Replay::File { path, .. }) = &replay else {
            panic!("a spooled file: {replay:?}");
        };
        assert_eq!(std::fs::read(path).unwrap(), b"{\"a\":1}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(replay);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "removed once recorded"
        );
    }

    #[tokio::test]
    async fn a_copy_past_the_cap_is_given_up_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(settings(dir.path(), 10));
        spool.write(b"0123456789").await;
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        spool.write(b"x").await;
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        match spool.finish(&outcome(Some("d"))).await {
            Some(Replay::Missing(why)) => assert_eq!(
                why,
                "the replay is larger than the 10 bytes a report stream may carry"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn no_chunks_is_no_replay_or_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Spool::new(settings(dir.path(), 10))
                .finish(&outcome(None))
                .await
                .is_none()
        );
        assert!(matches!(
            Spool::new(settings(dir.path(), 10))
                .finish(&outcome(Some("d")))
                .await,
            Some(Replay::Missing(_))
        ));
    }
}
