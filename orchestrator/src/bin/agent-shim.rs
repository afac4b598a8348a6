//! `agent-shim` binary: parses the command line, starts logging and runs [`orchestrator::shim::run`]: the
//! agent of one seat, in its own container, for the match's orchestrator.
//!
//! Exit codes: `0` when the orchestrator ended the shim or went away, or the copy was installed; `1` when the
//! shim itself failed (the seat's socket unreachable, the copy not written); `2` for usage errors.

use anyhow::Context as _;
use clap::Parser as _;
use orchestrator::shim::ShimCli;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = ShimCli::parse();
    orchestrator::telemetry::init(cli.log_format)?;
    orchestrator::shim::run(cli.command)
        .await
        .context("agent-shim failed")
}
