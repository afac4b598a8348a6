//! `executor` binary: parses the configuration, starts logging and runs the chosen command.

use std::time::Duration;

use anyhow::Context;
use executor::config::{Command, ConfigCommand};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = executor::config::parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit());
    common::telemetry::init(cli.telemetry.log_format.lines())
        .map_err(anyhow::Error::from_boxed)
        .context("starting logging")?;
    // Object stores reach their clouds over rustls; ring is the one crypto provider built in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Serve(args) => {
            args.check()?;
            let grpc = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("binding {}", args.listen))?;
            let http = match args.http_addr()? {
                Some(addr) => Some(
                    tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding {addr}"))?,
                ),
                None => None,
            };
            let listeners = executor::server::Listeners {
                grpc,
                http,
                drain_grace: Duration::from_secs(args.drain_grace_sec),
                connections: args.connections.clone(),
            };
            let shutdown = async {
                common::signal::shutdown().await;
                // A second signal during the drain exits at once.
                tokio::spawn(async {
                    common::signal::shutdown().await;
                    tracing::warn!("second signal: exiting now");
                    std::process::exit(130);
                });
            };
            executor::server::run(listeners, args.executor, shutdown).await?;
        }
        Command::Play(args) => {
            let response = executor::play::play(args).await?;
            print!("{}", executor::play::summary(&response));
        }
        Command::RenderJob(args) => {
            args.serve.executor.check_limits()?;
            print!(
                "{}",
                executor::backend::kubernetes::render_sample(&args).await?
            );
        }
        Command::Config(ConfigCommand::Print(args)) => {
            args.check()?;
            print!(
                "{}",
                toml::to_string(&args).context("printing the configuration")?
            );
        }
    }
    Ok(())
}
