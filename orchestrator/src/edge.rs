//! The edge both binaries of this crate share (`orchestrator` and `agent-shim`): start logging, run the
//! command, print a failure with its causes, and exit with the contract's code
//! (`proto::process::orchestrator::Exit`, which `agent-shim` uses too).

use std::future::Future;
use std::process::ExitCode;

use anyhow::Context as _;
use proto::process::orchestrator::Exit;

/// Starts logging in `format`, then runs `command`: [`Exit::Finished`] when it succeeds, [`Exit::Failed`]
/// (after printing the error and its causes to stderr) when logging cannot start or the command fails.
pub(crate) async fn finish(
    format: common::telemetry::Format,
    command: impl Future<Output = anyhow::Result<()>>,
) -> ExitCode {
    let outcome = async {
        common::telemetry::init(format)
            .map_err(anyhow::Error::from_boxed)
            .context("starting logging")?;
        command.await
    };
    let exit = match outcome.await {
        Ok(()) => Exit::Finished,
        Err(error) => {
            eprintln!("Error: {error:?}");
            Exit::Failed
        }
    };
    ExitCode::from(exit.code())
}
