//! The command line of the `agent-shim` binary; every flag can also be set from the environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::LogFormat;

/// Starts and controls one agent in its own container, for the match's orchestrator.
#[derive(Debug, Parser)]
#[command(name = "agent-shim", version)]
pub struct ShimCli {
    /// Log output: `pretty` for people, `json` for log collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "pretty",
        env = "AGENT_SHIM_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: ShimCommand,
}

/// What the binary can do.
#[derive(Debug, Subcommand)]
pub enum ShimCommand {
    /// Connect to the seat's socket and run the agent as the orchestrator asks.
    Run(RunArgs),
    /// Copy this binary to a file (an init container places it in a volume the agent's container mounts).
    Install(InstallArgs),
}

/// Options of `agent-shim run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The seat's Unix socket, where the orchestrator listens (a volume only it and this container share).
    #[arg(long, env = "AGENT_SHIM_SOCKET")]
    pub(crate) socket: PathBuf,

    /// The agent's directory (`agent.toml`, or `agent.py` / `main.py`): `/app` of an agent's image, or the
    /// volume its code was installed into.
    #[arg(long, default_value = "/app", env = "AGENT_SHIM_APP")]
    pub(crate) app: PathBuf,

    /// Python interpreter of Python module agents (a path, or a name looked up on the container's `PATH`);
    /// it is found from its path, never run outside the sandbox.
    #[arg(long, default_value = "python3", env = "AGENT_SHIM_PYTHON")]
    pub(crate) python: PathBuf,

    /// Writable directory in which the agent's private scratch directory is made.
    #[arg(long, default_value = "/tmp", env = "AGENT_SHIM_SCRATCH_ROOT")]
    pub(crate) scratch_root: PathBuf,

    /// Extra directories the agent may read and execute (comma-separated), for runtimes outside /usr.
    #[arg(long, value_delimiter = ',', env = "AGENT_SHIM_AGENT_READ_PATHS")]
    pub(crate) agent_read_paths: Vec<PathBuf>,

    /// How long to keep trying to reach the orchestrator, in seconds.
    #[arg(long, default_value_t = 900, env = "AGENT_SHIM_CONNECT_TIMEOUT_SEC")]
    pub(crate) connect_timeout_sec: u64,
}

/// Options of `agent-shim install`.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// Where to put the copy (made executable by everyone, read-only).
    #[arg(long, env = "AGENT_SHIM_INSTALL_DEST")]
    pub(crate) dest: PathBuf,
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::Parser;
    use proto::process::agent_shim::{ShimInstall, ShimRun};
    use proto::process::orchestrator::LogFormat as Lines;

    use super::*;

    /// What the executor builds (`proto::process::agent_shim`) parses into the same values here.
    #[test]
    fn the_executors_command_lines_parse_into_the_same_values() {
        let full = ShimRun {
            app: Some("/agents/agent-2".into()),
            python: Some("/usr/local/bin/python3".into()),
            scratch_root: Some("/scratch".into()),
            agent_read_paths: vec!["/opt/conda".into()],
            log_format: Lines::Json,
            ..ShimRun::new("/run/rl-arena/seat/seat.sock")
        };
        for run in [ShimRun::new("/s.sock"), full] {
            let argv: Vec<OsString> = std::iter::once("agent-shim".into())
                .chain(run.args())
                .collect();
            let cli = ShimCli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let ShimCommand::Run(args) = cli.command else {
                panic!("{argv:?} is not a run");
            };
            assert_eq!(args.socket, run.socket);
            assert_eq!(args.app, run.app.clone().unwrap_or_else(|| "/app".into()));
            assert_eq!(
                args.python,
                run.python.clone().unwrap_or_else(|| "python3".into())
            );
            assert_eq!(
                args.scratch_root,
                run.scratch_root.clone().unwrap_or_else(|| "/tmp".into())
            );
            assert_eq!(args.agent_read_paths, run.agent_read_paths);
            let json = matches!(run.log_format, Lines::Json);
            assert_eq!(cli.log_format == LogFormat::Json, json);
        }
        let install = ShimInstall {
            dest: "/rl-arena/bin/agent-shim".into(),
        };
        let argv: Vec<OsString> = std::iter::once("agent-shim".into())
            .chain(install.args())
            .collect();
        let cli = ShimCli::try_parse_from(&argv).unwrap();
        let ShimCommand::Install(args) = cli.command else {
            panic!("{argv:?} is not an install");
        };
        assert_eq!(args.dest, install.dest);
    }
}
