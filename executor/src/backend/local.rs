//! The local backend: every match in a private work directory, `agent-init` once per agent, then
//! `orchestrator run` as a child process that reports back over `MatchReporter`.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::outcome::{MatchOutcome, MatchStatus};
use tempfile::TempDir;
use tokio::process::Command;

use super::{MatchRun, failed_outcome};
use crate::config::ExecutorArgs;
use crate::error::{Error, Result};
use tokio_util::sync::CancellationToken;

use crate::live::LiveMatch;
use crate::reporter::ReportHub;
use crate::request::MatchPlan;

/// `agent-init` exit code for an artifact that is the agent's fault.
const AGENT_INIT_BAD_ARTIFACT: i32 = 10;
/// How long one agent install may take.
const AGENT_INIT_TIMEOUT: Duration = Duration::from_secs(120);
/// Extra time the orchestrator gets over the match budget before the executor stops it.
const ORCHESTRATOR_SLACK: Duration = Duration::from_secs(30);
/// Time between SIGTERM and SIGKILL when the executor stops an orchestrator.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a local orchestrator keeps retrying its report stream.
const REPORT_RETRY_MS: &str = "3000";
/// How much of a helper's log is quoted in an error message.
const LOG_TAIL_BYTES: usize = 2048;

/// Plays matches as local child processes.
#[derive(Debug)]
pub struct LocalBackend {
    orchestrator_bin: PathBuf,
    agent_init_bin: PathBuf,
    python: String,
    /// Parent of the per-match work directories.
    work_root: PathBuf,
    hub: Arc<ReportHub>,
    /// URL at which orchestrators reach this executor's `MatchReporter`.
    report_url: String,
}

impl LocalBackend {
    /// Finds the helper binaries and prepares the work directory.
    pub fn new(settings: &ExecutorArgs, hub: Arc<ReportHub>, report_url: String) -> Result<Self> {
        let bins = &settings.binaries;
        let orchestrator_bin = resolve_binary(
            bins.orchestrator_bin.as_deref(),
            "orchestrator",
            "EXECUTOR_ORCHESTRATOR_BIN",
        )?;
        let agent_init_bin = resolve_binary(
            bins.agent_init_bin.as_deref(),
            "agent-init",
            "EXECUTOR_AGENT_INIT_BIN",
        )?;
        let work_root = settings.data_dir.join("work");
        std::fs::create_dir_all(&work_root)
            .map_err(Error::io(format!("creating {}", work_root.display())))?;
        Ok(Self {
            orchestrator_bin,
            agent_init_bin,
            python: bins.python.clone(),
            work_root,
            hub,
            report_url,
        })
    }

    pub fn agent_init_bin(&self) -> &Path {
        &self.agent_init_bin
    }

    pub fn orchestrator_bin(&self) -> &Path {
        &self.orchestrator_bin
    }

    pub fn python(&self) -> &str {
        &self.python
    }

    /// Plays one match. Never fails: whatever goes wrong becomes the outcome's status and message. The work
    /// directory is being removed when this returns; the match is answered only after [`WorkCleanup::finish`].
    #[tracing::instrument(skip_all, fields(match_id = %plan.match_id))]
    pub async fn run(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> (MatchRun, WorkCleanup) {
        let started = Instant::now();
        let (ran, cleanup) = match self.work_dir(plan) {
            Ok(work) => {
                let ran = self.try_run(plan, live, work.path()).await;
                (ran, WorkCleanup::start(work))
            }
            Err(e) => (Err(e), WorkCleanup::default()),
        };
        let mut run = match ran {
            Ok(run) => run,
            Err(e) => MatchRun {
                outcome: failed_outcome(plan, MatchStatus::Error, format!("executor: {e}"), &[]),
                replay: None,
            },
        };
        if run.outcome.execution_time_sec == 0.0 {
            run.outcome.execution_time_sec = started.elapsed().as_secs_f64();
        }
        (run, cleanup)
    }

    /// A private directory for one match under the work root.
    fn work_dir(&self, plan: &MatchPlan) -> Result<TempDir> {
        tempfile::Builder::new()
            .prefix(&format!("{}-", plan.match_id))
            .tempdir_in(&self.work_root)
            .map_err(Error::io("creating the match work directory"))
    }

    async fn try_run(
        &self,
        plan: &MatchPlan,
        live: &Arc<LiveMatch>,
        dir: &Path,
    ) -> Result<MatchRun> {
        let cancel = live.cancel_token();

        let mut installs = tokio::task::JoinSet::new();
        for (i, agent) in plan.agents.iter().enumerate() {
            let (bin, source, dir) = (
                self.agent_init_bin.clone(),
                agent.source.clone(),
                dir.to_path_buf(),
            );
            let cancel = cancel.clone();
            installs.spawn(async move {
                let dest = dir.join("agents").join(format!("agent-{}", i + 1));
                let result_file = dir.join(format!("agent-{}-init.txt", i + 1));
                (
                    i,
                    install(&bin, &source, &dest, &result_file, &cancel).await,
                )
            });
        }
        let mut agent_dirs = vec![PathBuf::new(); plan.agents.len()];
        let mut faults = Vec::new();
        let mut infra = Vec::new();
        loop {
            let joined = tokio::select! {
                joined = installs.join_next() => match joined {
                    Some(joined) => joined,
                    None => break,
                },
                () = cancel.cancelled() => {
                    // Each install sees the same token, kills its agent-init and waits for it to exit.
                    while installs.join_next().await.is_some() {}
                    return Ok(MatchRun {
                        outcome: failed_outcome(plan, MatchStatus::Cancelled, "cancelled while installing the agents".into(), &[]),
                        replay: None,
                    });
                }
            };
            let (i, result) =
                joined.map_err(|e| Error::Internal(format!("agent install task: {e}")))?;
            let agent_id = &plan.agents[i].agent_id;
            match result? {
                Install::Done(path) => agent_dirs[i] = path,
                Install::BadArtifact(msg) => faults.push((i, format!("agent {agent_id}: {msg}"))),
                Install::Failed(msg) => infra.push(format!("agent {agent_id}: {msg}")),
                Install::Cancelled => {}
            }
        }
        if !faults.is_empty() || !infra.is_empty() {
            faults.sort();
            let message = faults
                .iter()
                .map(|(_, m)| m.clone())
                .chain(infra)
                .collect::<Vec<_>>()
                .join("; ");
            return Ok(MatchRun {
                outcome: failed_outcome(plan, MatchStatus::Error, message, &faults),
                replay: None,
            });
        }

        let spec_path = dir.join("spec.json");
        let spec_json = plan.spec_json(agent_dirs)?;
        write_private(&spec_path, &spec_json)?;

        let registration = self.hub.register(live);
        let token_path = dir.join("token");
        write_private(&token_path, registration.token().as_bytes())?;
        let result_path = dir.join("result.json");
        let replay_path = dir.join("replay.json");
        let log_path = dir.join("orchestrator.log");
        let log =
            std::fs::File::create(&log_path).map_err(Error::io("creating the orchestrator log"))?;

        let mut child = Command::new(&self.orchestrator_bin)
            .arg("run")
            .arg("--spec")
            .arg(&spec_path)
            .arg("--report-to")
            .arg(&self.report_url)
            .arg("--token-file")
            .arg(&token_path)
            .arg("--result-file")
            .arg(&result_path)
            .arg("--replay-out")
            .arg(&replay_path)
            .arg("--python")
            .arg(&self.python)
            .arg("--log-format")
            .arg("json")
            // The executor is the orchestrator's parent here: when it is gone there is no one left to report
            // to, so retrying long would only keep the process around.
            .arg("--report-retry-ms")
            .arg(REPORT_RETRY_MS)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(Error::io(format!(
                "starting {}",
                self.orchestrator_bin.display()
            )))?;

        let deadline =
            plan.timeout + Duration::from_millis(plan.limits.init_ms) + ORCHESTRATOR_SLACK;
        let ended = tokio::select! {
            waited = tokio::time::timeout(deadline, child.wait()) => match waited {
                Ok(status) => Ended::Exited(status),
                Err(_) => Ended::Overran,
            },
            () = cancel.cancelled() => Ended::Cancelled,
        };
        let exit = match ended {
            Ended::Exited(status) => {
                Some(status.map_err(Error::io("waiting for the orchestrator"))?)
            }
            Ended::Overran => {
                tracing::warn!(
                    deadline_sec = deadline.as_secs(),
                    "orchestrator overran its deadline; stopping it"
                );
                stop(&mut child).await;
                None
            }
            Ended::Cancelled => {
                tracing::info!("match cancelled; stopping the orchestrator");
                stop(&mut child).await
            }
        };

        let collected = registration.take();
        let outcome = match collected.outcome {
            Some(outcome) => Some(outcome),
            None => read_outcome(&result_path),
        };
        let outcome = match (outcome, exit) {
            (Some(outcome), _) => outcome,
            (None, _) if cancel.is_cancelled() => failed_outcome(
                plan,
                MatchStatus::Cancelled,
                "cancelled; the orchestrator left no result".into(),
                &[],
            ),
            (None, None) => failed_outcome(
                plan,
                MatchStatus::Timeout,
                format!(
                    "match did not finish within {} s and was stopped",
                    deadline.as_secs()
                ),
                &[],
            ),
            (None, Some(status)) => failed_outcome(
                plan,
                MatchStatus::Error,
                format!(
                    "orchestrator failed ({}): {}",
                    describe(status),
                    log_tail(&log_path)
                ),
                &[],
            ),
        };
        let replay = if !plan.record_replay {
            None
        } else if !collected.replay.is_empty() {
            Some(collected.replay)
        } else {
            std::fs::read(&replay_path).ok()
        };
        Ok(MatchRun { outcome, replay })
    }
}

/// The removal of a finished match's work directory. It runs on a blocking thread, so that it overlaps storing
/// the replay instead of holding up a runtime worker; the match is answered only after [`WorkCleanup::finish`],
/// so no work directory outlives its match. Dropped unfinished, the removal still completes.
#[derive(Debug, Default)]
pub struct WorkCleanup(Option<tokio::task::JoinHandle<()>>);

impl WorkCleanup {
    fn start(work: TempDir) -> Self {
        Self(Some(tokio::task::spawn_blocking(move || {
            let path = work.path().to_path_buf();
            if let Err(e) = work.close() {
                tracing::warn!(path = %path.display(), error = %e, "removing the match work directory failed");
            }
        })))
    }

    /// Waits until the work directory is gone.
    pub async fn finish(self) {
        if let Some(task) = self.0 {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "the work directory removal task failed");
            }
        }
    }
}

/// How an `agent-init` run ended.
pub(crate) enum Install {
    Done(PathBuf),
    BadArtifact(String),
    Failed(String),
    /// Stopped by the match's cancellation; the process is gone.
    Cancelled,
}

/// Runs `agent-init` to install `source` into `dest`.
pub(crate) async fn install(
    bin: &Path,
    source: impl AsRef<std::ffi::OsStr>,
    dest: &Path,
    result_file: &Path,
    cancel: &CancellationToken,
) -> Result<Install> {
    let mut child = Command::new(bin)
        .arg("--source")
        .arg(source.as_ref())
        .arg("--dest")
        .arg(dest)
        .arg("--result-file")
        .arg(result_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(Error::io(format!("starting {}", bin.display())))?;
    let stderr = child.stderr.take();
    let waited = tokio::select! {
        waited = tokio::time::timeout(AGENT_INIT_TIMEOUT, child.wait()) => waited,
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            return Ok(Install::Cancelled);
        }
    };
    let status = match waited {
        Ok(status) => status.map_err(Error::io("waiting for agent-init"))?,
        Err(_) => {
            let _ = child.kill().await;
            return Ok(Install::Failed(format!(
                "installing the agent took longer than {} s",
                AGENT_INIT_TIMEOUT.as_secs()
            )));
        }
    };
    if status.success() {
        return Ok(Install::Done(dest.to_path_buf()));
    }
    let mut reason = std::fs::read_to_string(result_file)
        .unwrap_or_default()
        .trim()
        .to_string();
    if reason.is_empty() {
        if let Some(mut stderr) = stderr {
            let mut buf = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut buf).await;
            reason = tail(&String::from_utf8_lossy(&buf), LOG_TAIL_BYTES)
                .trim()
                .to_string();
        }
    }
    let reason = reason.trim_start_matches("agent-init: ").to_string();
    Ok(if status.code() == Some(AGENT_INIT_BAD_ARTIFACT) {
        Install::BadArtifact(reason)
    } else {
        Install::Failed(format!(
            "agent-init failed ({}): {reason}",
            describe(status)
        ))
    })
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

/// How waiting for the orchestrator ended.
enum Ended {
    Exited(std::io::Result<ExitStatus>),
    Overran,
    Cancelled,
}

fn read_outcome(path: &Path) -> Option<MatchOutcome> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    tail(&text, LOG_TAIL_BYTES).trim().to_string()
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Writes a file only the executor's user can read (specs and tokens).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(format!("creating {}", path.display())))?;
    file.write_all(bytes)
        .map_err(Error::io(format!("writing {}", path.display())))
}

/// The configured path, else the binary beside the executor's own executable.
fn resolve_binary(
    configured: Option<&Path>,
    name: &'static str,
    env: &'static str,
) -> Result<PathBuf> {
    let path = match configured {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .map_err(Error::io("finding the executor's own executable"))?
            .parent()
            .map(|dir| dir.join(name))
            .ok_or_else(|| Error::Internal("the executor's executable has no directory".into()))?,
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingBinary {
            name,
            path: path.display().to_string(),
            env,
        })
    }
}
