//! `ValidateAgent`: unpacks an agent archive the way a match would, checks that the agent can be started, and
//! plays a short smoke match of it against a built-in opponent in the requested environment.

use std::path::Path;

use common::text::tail;
use proto::outcome::{AgentStatus, MatchOutcome, MatchStatus};
use proto::process::orchestrator::{AgentCheck, CheckAgent, LogFormat, Run};
use proto::spec::{AgentSpec, Limits, MatchSpec};
use tempfile::TempDir;
use tokio::process::Command;

use crate::agent_init::{Install, install};
use crate::agent_sources::AgentSources;
use crate::backend::Tools;
use crate::config::AgentLimitArgs;
use crate::error::{Error, Result};
use crate::process::{LOG_TAIL_BYTES, describe};

/// Largest archive accepted for validation.
pub(crate) const MAX_ZIP_BYTES: usize = 64 * 1024 * 1024;

/// How long checking the agent's code may take (`orchestrator check-agent --timeout-ms`).
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Time the check process gets beyond its own deadline before the executor gives up on it.
const CHECK_SLACK: std::time::Duration = std::time::Duration::from_secs(10);

/// The built-in opponent of smoke matches: a Python module agent that always answers action 0. When that is
/// illegal, the environment's default action is played for it and only the opponent is charged.
const SMOKE_OPPONENT: &str = "def get_action(observation):\n    return 0\n";
/// Steps of a smoke match in pong (the other games end on their own quickly).
const SMOKE_PONG_STEPS: u64 = 50;
/// Wall-clock budget of a smoke match.
const SMOKE_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// What validation found: the archive is valid when there are no errors.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) errors: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

/// `ValidateAgent` with the helper programs and agent limits of this executor.
#[derive(Debug)]
pub(crate) struct Validator {
    tools: Tools,
    limits: AgentLimitArgs,
}

impl Validator {
    pub(crate) fn new(tools: Tools, limits: AgentLimitArgs) -> Self {
        Self { tools, limits }
    }

    /// Validates one agent archive (a zip), in `environment` when one is given.
    pub(crate) async fn validate(&self, code_zip: Vec<u8>, environment: &str) -> Result<Report> {
        if code_zip.is_empty() {
            return Err(Error::InvalidArgument(
                "code_zip is empty; send the agent as a zip archive".into(),
            ));
        }
        if code_zip.len() > MAX_ZIP_BYTES {
            return Err(Error::InvalidArgument(format!(
                "code_zip is {} bytes; the limit is {MAX_ZIP_BYTES}",
                code_zip.len()
            )));
        }
        let mut report = Report::default();
        if environment.is_empty() {
            report.warnings.push(
                "environment not given: only checked that the agent can be started".to_string(),
            );
        } else {
            envs::info(environment)
                .map_err(|e| Error::InvalidArgument(format!("environment: {e}")))?;
        }
        let work = blocking(|| {
            let work = tempfile::tempdir().map_err(Error::io("creating a validation directory"))?;
            std::fs::write(work.path().join("agent.zip"), code_zip)
                .map_err(Error::io("writing the archive"))?;
            Ok(work)
        })
        .await?;
        let checked = self.check(&work, environment, &mut report).await;
        // Removing the unpacked agent is file system work too.
        if let Err(e) = tokio::task::spawn_blocking(move || drop(work)).await {
            tracing::warn!(error = %e, "removing a validation directory failed");
        }
        checked.map(|()| report)
    }

    /// Unpacks the archive in `work`, checks the agent's launch and code, then plays the smoke match.
    async fn check(&self, work: &TempDir, environment: &str, report: &mut Report) -> Result<()> {
        let dest = work.path().join("agent");
        let result_file = work.path().join("init.txt");
        // The archive was written here: its directory is the one local root, and nothing is downloaded.
        let root = tokio::fs::canonicalize(work.path())
            .await
            .map_err(Error::io("resolving the validation directory"))?;
        let archive = work.path().join("agent.zip");
        let dir = match install(
            &self.tools.agent_init,
            &archive.display().to_string(),
            &dest,
            &result_file,
            &AgentSources::only(vec![root]),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await?
        {
            Install::Done(dir) => dir,
            Install::BadArtifact(reason) => {
                report.errors.push(reason);
                return Ok(());
            }
            Install::Failed(reason) => {
                return Err(Error::Internal(format!("unpacking the archive: {reason}")));
            }
            Install::Cancelled => {
                return Err(Error::Internal(
                    "unpacking the archive was cancelled".into(),
                ));
            }
        };
        let found = self.check_agent(&dir).await?;
        let shown = dir.display().to_string();
        report.errors.extend(
            found
                .errors
                .iter()
                .map(|error| error.replace(&shown, "the archive")),
        );
        report.warnings.extend(found.warnings);
        if report.errors.is_empty() && !environment.is_empty() {
            match self.tools.smoke_match {
                Ok(()) => {
                    let errors = self.smoke_match(&dir, environment, work.path()).await?;
                    report.errors.extend(errors);
                }
                Err(skipped) => report.warnings.push(skipped.to_string()),
            }
        }
        Ok(())
    }

    /// Runs `orchestrator check-agent` on the unpacked agent: its launch and code are read with the agent
    /// limits, the Python parse inside the agent sandbox.
    async fn check_agent(&self, dir: &Path) -> Result<AgentCheck> {
        use std::os::unix::process::ExitStatusExt;
        let args = CheckAgent {
            dir: dir.to_path_buf(),
            python: Some(self.tools.python.clone().into()),
            memory_mb: self.limits.agent_memory_mb,
            timeout_ms: u64::try_from(CHECK_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            log_format: LogFormat::Json,
        }
        .args();
        let run = Command::new(&self.tools.orchestrator)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(CHECK_TIMEOUT + CHECK_SLACK, run)
            .await
            .map_err(|_| Error::Internal("checking the agent did not finish".into()))?
            .map_err(Error::io("running orchestrator check-agent"))?;
        if output.status.success() {
            return serde_json::from_slice(&output.stdout)
                .map_err(|e| Error::Internal(format!("reading the agent check's report: {e}")));
        }
        // Killed by the limits it set itself: reading the agent's files cost more than the agent may use.
        if let Some(signal) = output.status.signal() {
            return Ok(AgentCheck {
                errors: vec![format!(
                    "the agent's files cannot be read within the agent's limits ({} MiB of memory, {} s): the \
                     check was killed by signal {signal}",
                    self.limits.agent_memory_mb,
                    CHECK_TIMEOUT.as_secs()
                )],
                ..AgentCheck::default()
            });
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(Error::Internal(format!(
            "checking the agent failed ({}): {}",
            describe(output.status),
            tail(stderr.trim(), LOG_TAIL_BYTES)
        )))
    }

    /// Plays a short match of the agent against the built-in opponent, through the real orchestrator and its
    /// sandbox: the agent must load, answer `ready`, and make legal moves in time. Returns the errors found.
    async fn smoke_match(&self, dir: &Path, environment: &str, work: &Path) -> Result<Vec<String>> {
        let opponent = work.join("opponent");
        let mut config = serde_json::Map::new();
        match environment {
            "pong" => {
                config.insert("max_steps".into(), SMOKE_PONG_STEPS.into());
            }
            "rps" => {
                config.insert("episodeSteps".into(), (SMOKE_PONG_STEPS + 1).into());
            }
            _ => {}
        }
        let limits = &self.limits;
        let spec = MatchSpec {
            match_id: "validate".into(),
            environment: environment.to_string(),
            config,
            seed: 1,
            agents: vec![
                AgentSpec {
                    agent_id: "candidate".into(),
                    dir: dir.to_path_buf(),
                },
                AgentSpec {
                    agent_id: "builtin-opponent".into(),
                    dir: opponent,
                },
            ],
            limits: Limits {
                init_ms: limits.agent_init_ms,
                step_ms: limits.agent_step_ms,
                bank_ms: limits.agent_bank_ms,
                // The opponent's illegal moves must not end the match early; the candidate may make none.
                max_errors: u32::MAX,
                match_ms: u64::try_from(SMOKE_BUDGET.as_millis()).unwrap_or(u64::MAX),
                memory_mb: limits.agent_memory_mb,
                ..Limits::default()
            },
            record_replay: false,
        };
        let spec_path = work.join("smoke.json");
        let result_path = work.join("smoke-result.json");
        let spec_json = serde_json::to_vec(&spec)
            .map_err(|e| Error::Internal(format!("encoding the smoke spec: {e}")))?;
        let (spec_file, opponent_dir) = (spec_path.clone(), spec.agents[1].dir.clone());
        blocking(move || {
            std::fs::create_dir_all(&opponent_dir)
                .map_err(Error::io("creating the smoke opponent"))?;
            std::fs::write(opponent_dir.join("agent.py"), SMOKE_OPPONENT)
                .map_err(Error::io("writing the smoke opponent"))?;
            std::fs::write(&spec_file, spec_json).map_err(Error::io("writing the smoke spec"))
        })
        .await?;
        let args = Run {
            result_file: Some(result_path.clone()),
            python: Some(self.tools.python.clone().into()),
            log_format: LogFormat::Json,
            ..Run::new(&spec_path)
        }
        .args();
        let run = Command::new(&self.tools.orchestrator)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let status = tokio::time::timeout(SMOKE_BUDGET + SMOKE_BUDGET, run)
            .await
            .map_err(|_| Error::Internal("the smoke match did not finish".into()))?
            .map_err(Error::io("running the smoke match"))?;
        let outcome: MatchOutcome = tokio::fs::read(&result_path)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::Internal(format!("the smoke match left no result ({status})")))?;
        let Some(candidate) = outcome.agents.first() else {
            return Err(Error::Internal(
                "the smoke match result has no agents".into(),
            ));
        };
        if candidate.status == AgentStatus::Ok
            && candidate.errors == 0
            && outcome.status == MatchStatus::Success
        {
            return Ok(Vec::new());
        }
        let status = serde_json::to_value(candidate.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut error = format!(
            "smoke match in {environment} against the built-in opponent: the agent ended as {status} with {} error(s)",
            candidate.errors
        );
        if !candidate.error_message.is_empty() {
            error.push_str(&format!(": {}", candidate.error_message));
        } else if !outcome.error_message.is_empty() {
            error.push_str(&format!(": {}", outcome.error_message));
        }
        let tail = candidate.stderr_tail.trim();
        if !tail.is_empty() {
            error.push_str(&format!("; its stderr ends with: {tail}"));
        }
        Ok(vec![error])
    }
}

/// Runs file system work on a blocking thread, off the runtime's workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("validation file task: {e}")))?
}
