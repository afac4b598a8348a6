//! The match orchestrator: plays one match inside its pod or as a local child process of the executor.
//!
//! - `config`: the command line (`orchestrator run ...`) and the options of a run. The games are the `envs`
//!   crate's.
//! - [`agent`]: finding out how to start an agent, running it as a child process and speaking the wire protocol.
//! - `match_loop`: the match itself ([`play`]): init, steps, fault accounting, winner.
//! - `sandbox`: the isolation layers applied to every agent process, and the orchestrator's own hardening.
//! - [`replay`]: the replay recorder, its state-hash chain and digest.
//! - [`report`]: the `MatchReporter` client stream back to the executor.
//! - [`verify`]: re-simulating a replay file to check every step, hash and score it records.
//! - [`check`]: `check-agent`, the static checks of an installed agent, run with the agent's limits.
//!
//! [`run`] is what the binary calls; [`play`] plays a match without touching files or the network.

use std::future::Future;
use std::path::{Path, PathBuf};

use proto::outcome::MatchOutcome;
use proto::spec::MatchSpec;

pub mod agent;
pub mod check;
mod config;
mod match_loop;
pub mod replay;
pub mod report;
mod sandbox;
pub mod verify;

pub use config::{CheckAgentArgs, Cli, Command, LogFormat, RunConfig};
pub use match_loop::{PlayOptions, Played, play};

/// Failures of the orchestrator itself. Everything an agent or the environment does wrong is part of the
/// outcome instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("match spec: {0}")]
    Spec(#[from] proto::Error),
    #[error(
        "reading token file {path}: {source}; write the match's report token there or drop --report-to"
    )]
    TokenFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("token file {path}: {message}")]
    Token { path: String, message: String },
    #[error(
        "report address {url:?}: {message}; pass an http:// URL such as http://127.0.0.1:50052"
    )]
    ReportUrl { url: String, message: String },
    #[error("writing {what} to {path}: {source}; check that the directory exists and is writable")]
    Write {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding {what} as JSON: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("checking the agent: {0}")]
    Check(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Plays the match of `config.spec`: reports to the executor when asked, writes the replay and the result file.
///
/// Returns the outcome (with the replay digest when one was recorded). An error means the orchestrator itself
/// failed: the spec could not be read, or the result could not be written.
pub async fn run(config: RunConfig, shutdown: impl Future<Output = ()>) -> Result<MatchOutcome> {
    let spec = MatchSpec::load(&config.spec)?;
    let reporter = match &config.report_to {
        Some(url) => {
            let token = match &config.token_file {
                Some(path) => Some(read_token(path)?),
                None => None,
            };
            report::Reporter::start(url, token.as_deref(), &spec.match_id, config.report_retry())?
        }
        None => report::Reporter::disabled(),
    };
    sandbox::harden_orchestrator();
    let options = PlayOptions {
        python: config.python.clone(),
        sandbox: config.sandbox.options(),
        ..PlayOptions::default()
    };
    let played = play(&spec, &options, &reporter, shutdown).await;
    sandbox::kill_descendants();
    let outcome = played.outcome;

    if let (Some(replay), Some(path)) = (&played.replay, &config.replay_out) {
        write_file(path, "replay", replay).await?;
    }
    let outcome_json = serde_json::to_vec(&outcome).map_err(|source| Error::Encode {
        what: "outcome",
        source,
    })?;
    if let Some(path) = &config.result_file {
        let compact = compact_outcome(&outcome, config.result_max_bytes)?;
        write_file(path, "result", compact.as_deref().unwrap_or(&outcome_json)).await?;
    }
    tracing::info!(
        match_id = %outcome.match_id,
        status = ?outcome.status,
        winner = outcome.winner.as_deref().unwrap_or("-"),
        steps = outcome.total_steps,
        scores = ?outcome.agents.iter().map(|a| a.score).collect::<Vec<_>>(),
        agent_statuses = ?outcome.agents.iter().map(|a| a.status).collect::<Vec<_>>(),
        seconds = outcome.execution_time_sec,
        "match finished"
    );

    if let Some(replay) = &played.replay {
        reporter.replay(replay);
    }
    reporter
        .finish(String::from_utf8_lossy(&outcome_json).into_owned())
        .await;
    Ok(outcome)
}

/// Reads a report token: the file's content without surrounding whitespace.
fn read_token(path: &Path) -> Result<String> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::TokenFile {
        path: display.clone(),
        source,
    })?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(Error::Token {
            path: display,
            message: "the file is empty; write the match's report token there".into(),
        });
    }
    Ok(token)
}

/// The outcome shortened to at most `max` bytes of JSON (stderr tails first, then long messages), or `None`
/// when it already fits or there is no limit.
fn compact_outcome(outcome: &MatchOutcome, max: usize) -> Result<Option<Vec<u8>>> {
    let encode = |o: &MatchOutcome| {
        serde_json::to_vec(o).map_err(|source| Error::Encode {
            what: "outcome",
            source,
        })
    };
    if max == 0 || encode(outcome)?.len() <= max {
        return Ok(None);
    }
    let mut short = outcome.clone();
    let mut keep = 1024;
    loop {
        for agent in &mut short.agents {
            agent.stderr_tail = tail_of(&agent.stderr_tail, keep);
        }
        let json = encode(&short)?;
        if json.len() <= max {
            return Ok(Some(json));
        }
        if keep == 0 {
            break;
        }
        keep /= 2;
    }
    for agent in &mut short.agents {
        agent.error_message = tail_of(&agent.error_message, 160);
        agent
            .isolation
            .unavailable
            .iter_mut()
            .for_each(|u| *u = tail_of(u, 80));
    }
    short.error_message = tail_of(&short.error_message, 400);
    encode(&short).map(Some)
}

/// The last `max` bytes of `text` (at a character boundary), marked as cut when anything was dropped.
fn tail_of(text: &str, max: usize) -> String {
    let tail = common::text::tail(text, max);
    if tail.len() == text.len() {
        tail.to_string()
    } else {
        format!("[...]{tail}")
    }
}

/// Writes a file through a temporary sibling and a rename, so that readers never see half of it; where no
/// sibling can be created, in place.
async fn write_file(path: &Path, what: &'static str, bytes: &[u8]) -> Result<()> {
    let write_error = |source| Error::Write {
        what,
        path: path.display().to_string(),
        source,
    };
    let mut tmp = PathBuf::from(path);
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    tmp.set_file_name(name);
    let staged = match tokio::fs::write(&tmp, bytes).await {
        Ok(()) => tokio::fs::rename(&tmp, path).await,
        Err(e) => Err(e),
    };
    match staged {
        Ok(()) => Ok(()),
        // A file in a directory we cannot create files in (a Kubernetes termination message such as
        // /dev/termination-log) is written in place.
        Err(_) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            tokio::fs::write(path, bytes).await.map_err(write_error)
        }
    }
}

#[cfg(test)]
mod tests {
    use proto::outcome::{AgentOutcome, AgentStatus, MatchOutcome, MatchStatus};

    #[test]
    fn long_outcomes_are_compacted_to_the_limit() {
        let agent = |id: &str| AgentOutcome {
            agent_id: id.into(),
            score: 1.0,
            errors: 1,
            status: AgentStatus::Crashed,
            error_message: "step 3: agent exited".repeat(30),
            stderr_tail: "Traceback ... é".repeat(500),
            time_used_sec: 1.0,
            cpu_time_sec: 0.5,
            isolation: Default::default(),
        };
        let outcome = MatchOutcome {
            match_id: "m".into(),
            status: MatchStatus::Success,
            winner: Some("b".into()),
            agents: vec![agent("a"), agent("b")],
            total_steps: 3,
            execution_time_sec: 1.0,
            seed: 7,
            error_message: String::new(),
            replay_sha256: Some("ab".repeat(32)),
        };
        assert_eq!(
            super::compact_outcome(&outcome, 0).unwrap(),
            None,
            "no limit"
        );
        assert_eq!(
            super::compact_outcome(&outcome, 1 << 20).unwrap(),
            None,
            "fits"
        );
        let short = super::compact_outcome(&outcome, 4096)
            .unwrap()
            .expect("compacted");
        assert!(short.len() <= 4096, "{}", short.len());
        let back: MatchOutcome = serde_json::from_slice(&short).unwrap();
        assert_eq!(back.winner, outcome.winner);
        assert_eq!(back.agents[0].status, AgentStatus::Crashed);
        assert!(back.agents[0].stderr_tail.starts_with("[...]"));
        assert!(
            back.agents[0].stderr_tail.ends_with('é'),
            "the end of the tail is kept"
        );
    }
}
