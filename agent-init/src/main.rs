//! The `agent-init` binary: parses flags, starts logging and runs one install.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = agent_init::cli::Cli::parse();
    agent_init::telemetry::init(cli.log_json);
    ExitCode::from(agent_init::cli::run(cli).await)
}
