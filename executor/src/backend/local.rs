//! The local backend: every match in a private work directory, `agent-init` once per agent, then
//! `orchestrator run` as a child process that reports back over `MatchReporter`. On start it adopts what a
//! previous run left in the work directories (`adopt`).

mod adopt;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::text::tail;
use proto::outcome::{MatchOutcome, MatchStatus};
use proto::process::orchestrator::{LogFormat, Report, Run};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{Ending, Held, Played, Tools};
use crate::agent_init::{Installed, install_all, out_of_budget};
use crate::agent_sources::AgentSources;
use crate::config::ExecutorArgs;
use crate::error::{Error, Result};
use crate::live::LiveMatch;
use crate::process::{LOG_TAIL_BYTES, describe};
use crate::recorder::{Recorder, Replay};
use crate::reporter::ReportHub;
use crate::request::MatchPlan;
use adopt::WorkRecord;

/// What the orchestrator leaves of the match's remaining budget for ending the match, writing its files and
/// reporting: it ends the match on its own (`STATUS_TIMEOUT`) before the executor has to stop it.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);
/// Time between SIGTERM and SIGKILL when the executor stops an orchestrator.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a local orchestrator keeps retrying its report stream, in milliseconds.
const REPORT_RETRY_MS: u64 = 3000;

/// Plays matches as local child processes.
#[derive(Debug)]
pub(super) struct LocalBackend {
    tools: Tools,
    /// What agents may be installed from.
    sources: AgentSources,
    /// Parent of the per-match work directories.
    work_root: PathBuf,
    hub: Arc<ReportHub>,
    /// URL at which orchestrators reach this executor's `MatchReporter`.
    report_url: String,
}

/// The files of one match in its work directory.
struct MatchFiles {
    spec: PathBuf,
    token: PathBuf,
    result: PathBuf,
    replay: PathBuf,
    log: PathBuf,
    /// The agents' writable directories: inside the work directory, so that they go with it whatever happens
    /// to the orchestrator.
    scratch: PathBuf,
}

impl MatchFiles {
    fn in_dir(dir: &Path) -> Self {
        Self {
            spec: dir.join("spec.json"),
            token: dir.join("token"),
            result: dir.join("result.json"),
            replay: dir.join("replay.json"),
            log: dir.join("orchestrator.log"),
            scratch: dir.join("scratch"),
        }
    }
}

impl LocalBackend {
    /// Prepares the work directory, adopting what a previous run left there.
    pub(super) async fn new(
        settings: &ExecutorArgs,
        tools: Tools,
        sources: &AgentSources,
        hub: Arc<ReportHub>,
        report_url: String,
        recorder: &Recorder,
    ) -> Result<Self> {
        // Absolute: the helpers run in the match's work directory and get paths inside it.
        let work_root = std::path::absolute(settings.data_dir.join("work"))
            .map_err(Error::io("resolving the data directory"))?;
        tokio::fs::create_dir_all(&work_root)
            .await
            .map_err(Error::io(format!("creating {}", work_root.display())))?;
        adopt::adopt_leftovers(&work_root, recorder).await?;
        Ok(Self {
            tools,
            sources: sources.clone(),
            work_root,
            hub,
            report_url,
        })
    }

    pub(super) fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Plays one match. Never fails: whatever goes wrong becomes the outcome's status and message. The work
    /// directory is being removed when this returns; the match is answered only after [`Held::removed`].
    #[tracing::instrument(skip_all, fields(match_id = %plan.match_id))]
    pub(super) async fn play(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> Played {
        let started = Instant::now();
        let (ran, removal) = match self.work_dir(plan).await {
            Ok(work) => {
                let ran = self.try_play(plan, live, work.path()).await;
                (ran, Some(WorkCleanup(work)))
            }
            Err(e) => (Err(e), None),
        };
        let (mut outcome, replay) = match ran {
            Ok(ran) => ran,
            Err(e) => (
                plan.entrants()
                    .not_started(MatchStatus::Error, format!("executor: {e}")),
                Replay::unplayed(plan.record_replay),
            ),
        };
        if outcome.execution_time_sec == 0.0 {
            outcome.execution_time_sec = started.elapsed().as_secs_f64();
        }
        Played {
            ending: Ending::Outcome { outcome, replay },
            held: Held {
                removal,
                _claim: None,
            },
        }
    }

    /// A private directory for one match under the work root.
    async fn work_dir(&self, plan: &MatchPlan) -> Result<TempDir> {
        let (prefix, root) = (format!("{}-", plan.match_id), self.work_root.clone());
        tokio::task::spawn_blocking(move || {
            tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir_in(&root)
                .map_err(Error::io("creating the match work directory"))
        })
        .await
        .map_err(|e| Error::Internal(format!("work directory task: {e}")))?
    }

    async fn try_play(
        &self,
        plan: &MatchPlan,
        live: &Arc<LiveMatch>,
        dir: &Path,
    ) -> Result<(MatchOutcome, Option<Replay>)> {
        // First, what a restarted executor needs to record this match should this run die.
        let record = WorkRecord {
            match_id: plan.match_id.clone(),
            fingerprint: live.submitted.fingerprint.clone(),
            environment: plan.environment.clone(),
            agent_ids: plan.agent_ids(),
            seed: plan.seed,
            record_replay: plan.record_replay,
        };
        let record = serde_json::to_vec(&record)
            .map_err(|e| Error::Internal(format!("encoding the work record: {e}")))?;
        write_private(&dir.join(WorkRecord::FILE), &record).await?;
        let cancel = live.cancel_token();
        let installed = install_all(
            &self.tools.agent_init,
            plan,
            dir,
            &self.sources,
            cancel,
            live.deadline(),
        )
        .await?;
        let agent_dirs = match installed {
            Installed::All(agent_dirs) => agent_dirs,
            Installed::Ended(outcome) => {
                return Ok((*outcome, Replay::unplayed(plan.record_replay)));
            }
        };
        // The installs drew on the match's budget: the orchestrator gets what is left of it.
        let Some(budget) = live
            .deadline()
            .saturating_duration_since(tokio::time::Instant::now())
            .checked_sub(ANSWER_MARGIN)
            .filter(|left| !left.is_zero())
        else {
            return Ok((out_of_budget(plan), Replay::unplayed(plan.record_replay)));
        };
        let files = MatchFiles::in_dir(dir);
        write_private(&files.spec, &plan.spec_json_within(agent_dirs, budget)?).await?;
        let registration = self.hub.register(live);
        write_private(&files.token, registration.token().as_bytes()).await?;
        let log = tokio::fs::File::create(&files.log)
            .await
            .map_err(Error::io("creating the orchestrator log"))?
            .into_std()
            .await;

        let mut child = Command::new(&self.tools.orchestrator)
            .args(self.orchestrator_args(&files))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(Error::io(format!(
                "starting {}",
                self.tools.orchestrator.display()
            )))?;

        // The match's deadline (or a cancel) comes as the cancel token: `Matches` pulls it when the budget runs
        // out, and the orchestrator then ends the match with what was played.
        let exit = tokio::select! {
            status = child.wait() => Some(status.map_err(Error::io("waiting for the orchestrator"))?),
            () = cancel.cancelled() => {
                tracing::info!(reason = ?live.stop_reason(), "match stopped; stopping the orchestrator");
                stop(&mut child).await
            }
        };

        let collected = registration.take();
        let outcome = match collected.outcome {
            Some(outcome) => Some(outcome),
            None => read_outcome(&files.result).await,
        };
        let entrants = plan.entrants();
        let outcome = match (outcome, exit) {
            (Some(outcome), _) => outcome,
            (None, Some(status)) if !cancel.is_cancelled() => entrants.failed(
                MatchStatus::Error,
                format!(
                    "orchestrator failed ({}): {}",
                    describe(status),
                    log_tail(&files.log).await
                ),
            ),
            (None, _) => entrants.failed(
                MatchStatus::Cancelled,
                "cancelled; the orchestrator left no result",
            ),
        };
        // The orchestrator's own file is the whole replay; the report stream's copy is not needed here.
        let replay = plan.record_replay.then(|| {
            if files.replay.is_file() {
                Replay::file(files.replay.clone())
            } else if outcome.total_steps == 0 {
                Replay::Missing("the match ended before it was played".into())
            } else {
                Replay::Missing("the orchestrator wrote no replay file".into())
            }
        });
        Ok((outcome, replay))
    }

    /// The orchestrator's command line (the Kubernetes backend's `match-orchestrator` container gets the same
    /// flags with its container paths).
    fn orchestrator_args(&self, files: &MatchFiles) -> Vec<OsString> {
        let run = Run {
            report: Some(Report {
                to: self.report_url.clone(),
                token_file: files.token.clone(),
                // The executor is the orchestrator's parent here: when it is gone there is no one left to report
                // to, so retrying long would only keep the process around.
                retry_ms: Some(REPORT_RETRY_MS),
            }),
            result_file: Some(files.result.clone()),
            replay_out: Some(files.replay.clone()),
            python: Some(self.tools.python.clone().into()),
            scratch_dir: Some(files.scratch.clone()),
            log_format: LogFormat::Json,
            ..Run::new(&files.spec)
        };
        run.args()
    }
}

/// A played match's work directory, removed once the match is recorded (the replay is stored from it): on a
/// blocking thread, and before the match is answered, so that no work directory outlives its match. Dropped
/// unfinished, the directory is still removed.
#[derive(Debug)]
pub(super) struct WorkCleanup(TempDir);

impl WorkCleanup {
    /// Removes the work directory and waits until it is gone.
    pub(super) async fn finish(self) {
        let work = self.0;
        let removed = tokio::task::spawn_blocking(move || {
            let path = work.path().to_path_buf();
            if let Err(e) = work.close() {
                tracing::warn!(path = %path.display(), error = %e, "removing the match work directory failed");
            }
        })
        .await;
        if let Err(e) = removed {
            tracing::error!(error = %e, "the work directory removal task failed");
        }
    }
}

/// SIGTERM (the orchestrator then ends the match as cancelled and writes its result), a grace period, then
/// SIGKILL. Returns the exit status when the process exited within the grace period.
async fn stop(child: &mut tokio::process::Child) -> Option<ExitStatus> {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        if let Ok(Ok(status)) = tokio::time::timeout(STOP_GRACE, child.wait()).await {
            return Some(status);
        }
    }
    let _ = child.kill().await;
    None
}

async fn read_outcome(path: &Path) -> Option<MatchOutcome> {
    let bytes = tokio::fs::read(path).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn log_tail(path: &Path) -> String {
    let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
    tail(&text, LOG_TAIL_BYTES).trim().to_string()
}

/// Writes a file only the executor's user can read (specs and tokens).
async fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let writing = || Error::io(format!("writing {}", path.display()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(Error::io(format!("creating {}", path.display())))?;
    file.write_all(bytes).await.map_err(writing())?;
    // A tokio file finishes its last write in the background unless flushed.
    file.flush().await.map_err(writing())
}
