//! The match orchestrator: plays one match inside its pod or as a local child process of the executor.
//!
//! - [`config`]: the command line (`orchestrator run ...`) and the options of a run.
//! - [`envs`]: the games and their catalog.
//! - [`agent`]: finding out how to start an agent, running it as a child process and speaking the wire protocol.
//! - [`match_loop`]: the match itself: init, steps, fault accounting, winner.
//! - [`sandbox`]: the isolation layers applied to every agent process, and the orchestrator's own hardening.
//! - [`replay`]: the replay recorder, its state-hash chain and digest.
//! - [`report`]: the `MatchReporter` client stream back to the executor.
//! - [`verify`]: re-simulating a replay file to check every step, hash and score it records.
//! - [`telemetry`]: logging setup.
//!
//! [`run`] is what the binary calls; [`match_loop::play`] plays a match without touching files or the network.

use std::future::Future;
use std::path::{Path, PathBuf};

use proto::outcome::MatchOutcome;
use proto::spec::MatchSpec;

pub mod agent;
pub mod config;
pub mod envs;
pub mod match_loop;
pub mod replay;
pub mod report;
pub mod sandbox;
pub mod telemetry;
pub mod verify;

pub use config::{Cli, Command, LogFormat, RunConfig};
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
    #[error("starting logging: {0}")]
    Telemetry(String),
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
        write_file(path, "result", &outcome_json).await?;
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

/// Writes a file through a temporary sibling and a rename, so that readers never see half of it.
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
    tokio::fs::write(&tmp, bytes).await.map_err(write_error)?;
    tokio::fs::rename(&tmp, path).await.map_err(write_error)
}
