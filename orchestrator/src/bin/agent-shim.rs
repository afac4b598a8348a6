//! `agent-shim` binary: parses the command line, starts logging and runs [`orchestrator::shim::run`]: the
//! agent of one seat, in its own container, for the match's orchestrator.
//!
//! Exit codes (`proto::process::agent_shim::Exit`): `0` when the orchestrator ended the shim or went away,
//! or the copy was installed; `1` when the shim itself failed (the seat's socket unreachable, the copy not
//! written); `2` for usage errors.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use orchestrator::shim::ShimCli;

#[path = "../edge.rs"]
mod edge;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = ShimCli::parse();
    let command = async {
        orchestrator::shim::run(cli.command)
            .await
            .context("agent-shim failed")
    };
    edge::finish(cli.log_format.lines(), command).await
}
