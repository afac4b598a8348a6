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
