//! `executor` binary: parses the configuration, starts logging and runs the chosen command.

use anyhow::Context;
use clap::Parser;
use executor::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    executor::telemetry::init(cli.telemetry.log_format);
    match cli.command {
        Command::Serve(args) => {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("binding {}", args.listen))?;
            executor::server::run(listener, args.executor, executor::server::shutdown_signal())
                .await?;
        }
        Command::Play(args) => {
            let response = executor::play::play(args).await?;
            print!("{}", executor::play::summary(&response));
        }
    }
    Ok(())
}
