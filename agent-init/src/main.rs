//! The `agent-init` binary: parses flags, starts logging and runs one install.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = agent_init::cli::Cli::parse();
    // Nothing installs a subscriber before this, so it cannot fail.
    let _ = common::telemetry::init(cli.log_lines());
    ExitCode::from(agent_init::cli::run(cli).await)
}
