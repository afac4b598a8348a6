//! `orchestrator` binary: parses the command line, starts logging and plays the match with [`orchestrator::run`]
//! or checks a replay with [`orchestrator::verify`].
//!
//! Exit codes of `run`: `0` whenever the match produced a result (whatever its status), `1` when the
//! orchestrator itself failed (unreadable spec, result not writable), `2` for usage errors. `verify` exits `0`
//! when the replay checks out and `1` with the diverging step otherwise.

use anyhow::Context as _;
use clap::Parser as _;
use orchestrator::{Cli, Command};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(config) => {
            // Listening from the start: a SIGTERM that comes while the match is being set up (its scratch
            // directory made, its agents starting) ends the match as cancelled and cleans up, instead of killing
            // the process on the spot and leaving them behind.
            let shutdown = shutdown_signal()?;
            orchestrator::telemetry::init(cli.log_format)?;
            orchestrator::run(*config, shutdown)
                .await
                .context("orchestrator run failed")?;
        }
        Command::Verify(args) => {
            orchestrator::telemetry::init(cli.log_format)?;
            let report = orchestrator::verify::verify_file(&args.replay)
                .with_context(|| format!("replay {} does not verify", args.replay.display()))?;
            println!("{report}");
        }
    }
    Ok(())
}

/// Starts listening for SIGTERM and SIGINT at once, and resolves on the first of them; the match then ends as
/// cancelled and its result is still written.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::warn!("shutdown requested; ending the match as cancelled");
    })
}
