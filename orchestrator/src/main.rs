//! `orchestrator` binary: parses the command line, starts logging and plays the match with [`orchestrator::run`],
//! checks a replay with [`orchestrator::verify`] or an installed agent with [`orchestrator::check`].
//!
//! Exit codes (`proto::process::orchestrator::Exit`) of `run`: `0` whenever the match produced a result
//! (whatever its status), `1` when the orchestrator itself failed (unreadable spec, result not writable), `2` for
//! usage errors. `verify` exits `0` when the replay checks out and `1` with the diverging step otherwise;
//! `check-agent` exits `0` when it printed its report (whatever it found) and `1` when it could not check.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use orchestrator::{Cli, Command};

mod edge;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    edge::finish(cli.log_format.lines(), command(cli.command)).await
}

async fn command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(config) => {
            // Listening from the start: a SIGTERM that comes while the match is being set up (its scratch
            // directory made, its agents starting) ends the match as cancelled and cleans up, instead of killing
            // the process on the spot and leaving them behind.
            let shutdown = shutdown_signal();
            orchestrator::run(*config, shutdown)
                .await
                .context("orchestrator run failed")?;
        }
        Command::CheckAgent(args) => {
            let report = orchestrator::check::check_agent(&args)
                .await
                .context("orchestrator check-agent failed")?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Verify(args) => {
            let report = orchestrator::verify::verify_file(&args.replay)
                .with_context(|| format!("replay {} does not verify", args.replay.display()))?;
            println!("{report}");
        }
    }
    Ok(())
}

/// Starts listening for SIGTERM and SIGINT at once, and resolves on the first of them; the match then ends as
/// cancelled and its result is still written.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let signal = common::signal::listen();
    async move {
        signal.await;
        tracing::warn!("shutdown requested; ending the match as cancelled");
    }
}
