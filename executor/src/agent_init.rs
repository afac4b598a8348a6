//! Runs `agent-init` on this machine to install agents: every agent of a local match ([`install_all`]), and
//! the archive `ValidateAgent` checks ([`install`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::text::tail;
use proto::outcome::{MatchOutcome, MatchStatus};
use proto::process::agent_init::{Exit, Install as InstallArgs};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::agent_sources::AgentSources;
use crate::error::{Error, Result};
use crate::live::StopReason;
use crate::process::{LOG_TAIL_BYTES, describe};
use crate::request::MatchPlan;

/// How long one agent install may take at most; a match's installs also draw on its budget, which cancels
/// them when it runs out first.
const TIMEOUT: Duration = Duration::from_secs(120);

/// How an `agent-init` run ended.
#[derive(Debug)]
pub(crate) enum Install {
    Done(PathBuf),
    BadArtifact(String),
    Failed(String),
    /// Stopped by the match's cancellation; the process is gone.
    Cancelled,
}

/// How installing a match's agents ended.
pub(crate) enum Installed {
    /// Every agent is in its directory, in seat order.
    All(Vec<PathBuf>),
    /// The match ends here: cancelled, or an agent could not be installed.
    Ended(Box<MatchOutcome>),
}

/// Runs `agent-init` to install `source` into `dest`, from the sources `allowed`. It runs in the directory of
/// its result file (a match's work directory), where an executor restarted after a crash finds and stops it.
pub(crate) async fn install(
    bin: &Path,
    source: &str,
    dest: &Path,
    result_file: &Path,
    allowed: &AgentSources,
    cancel: &CancellationToken,
) -> Result<Install> {
    let install = InstallArgs {
        source: source.to_string(),
        dest: dest.to_path_buf(),
        result_file: Some(result_file.to_path_buf()),
        sha256: None,
        access: allowed.access(),
    };
    let mut command = Command::new(bin);
    if let Some(dir) = result_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        command.current_dir(dir);
    }
    let mut child = command
        .args(install.args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(Error::io(format!("starting {}", bin.display())))?;
    let stderr = child.stderr.take();
    let waited = tokio::select! {
        waited = tokio::time::timeout(TIMEOUT, child.wait()) => waited,
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
                TIMEOUT.as_secs()
            )));
        }
    };
    if status.success() {
        return Ok(Install::Done(dest.to_path_buf()));
    }
    let mut reason = tokio::fs::read_to_string(result_file)
        .await
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
    Ok(
        if status.code().and_then(Exit::from_code) == Some(Exit::BadArtifact) {
            Install::BadArtifact(reason)
        } else {
            Install::Failed(format!(
                "agent-init failed ({}): {reason}",
                describe(status)
            ))
        },
    )
}

/// Installs every agent of a match, in parallel, into `<dir>/agents/agent-N`; an agent whose artifact is bad
/// is charged with the failed match. The installs draw on the match's budget: at its `deadline` they are
/// stopped and the match is a timeout.
pub(crate) async fn install_all(
    bin: &Path,
    plan: &MatchPlan,
    dir: &Path,
    allowed: &AgentSources,
    cancel: &CancellationToken,
    deadline: tokio::time::Instant,
) -> Result<Installed> {
    let stop = cancel.child_token();
    let mut installs = tokio::task::JoinSet::new();
    for (i, agent) in plan.agents.iter().enumerate() {
        let (bin, source, dir) = (bin.to_path_buf(), agent.source.clone(), dir.to_path_buf());
        let (allowed, cancel) = (allowed.clone(), stop.clone());
        installs.spawn(async move {
            let dest = dir.join("agents").join(format!("agent-{}", i + 1));
            let result_file = dir.join(format!("agent-{}-init.txt", i + 1));
            (
                i,
                install(&bin, &source, &dest, &result_file, &allowed, &cancel).await,
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
                return Ok(Installed::Ended(Box::new(plan.entrants().not_started(
                    MatchStatus::Cancelled,
                    "cancelled while installing the agents",
                ))));
            }
            () = tokio::time::sleep_until(deadline) => {
                stop.cancel();
                while installs.join_next().await.is_some() {}
                return Ok(Installed::Ended(Box::new(out_of_budget(plan))));
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
    if faults.is_empty() && infra.is_empty() {
        return Ok(Installed::All(agent_dirs));
    }
    faults.sort();
    let message = faults
        .iter()
        .map(|(_, m)| m.clone())
        .chain(infra)
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Installed::Ended(Box::new(plan.entrants().not_started_by(
        MatchStatus::Error,
        message,
        &faults,
    ))))
}

/// The outcome of a match whose budget ran out before its agents started.
pub(crate) fn out_of_budget(plan: &MatchPlan) -> MatchOutcome {
    let mut outcome = plan.entrants().not_started(MatchStatus::Cancelled, "");
    StopReason::Deadline.settle(&mut outcome, plan.timeout);
    outcome
}
