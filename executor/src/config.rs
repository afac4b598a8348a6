//! Command line and environment configuration of the `executor` binary.
//!
//! Every flag can also be set through the environment variable named beside it, which is how pods are
//! configured.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// RL Arena match executor: plays matches between agents and reports the results over gRPC.
#[derive(Debug, Parser)]
#[command(name = "executor", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve `executor.Executor` and `executor.MatchReporter` over gRPC.
    Serve(ServeArgs),
    /// Play one match through a gRPC executor and print the result: an embedded one on 127.0.0.1 (started
    /// and stopped around the match), or a running one given with `--addr`.
    Play(PlayArgs),
}

/// Logging options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log line format.
    #[arg(long, env = "EXECUTOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Options of `executor serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "EXECUTOR_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

/// How matches are run; shared by `serve` and the embedded executor of `play`.
#[derive(Debug, Clone, Args)]
pub struct ExecutorArgs {
    /// Directory for replays and match work directories.
    #[arg(long, env = "EXECUTOR_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Base URL under which replays are published; replay URLs become `<base>/<match_id>.json`. Without it
    /// they are `file://` URLs of the stored files.
    #[arg(long, env = "EXECUTOR_REPLAY_BASE_URL")]
    pub replay_base_url: Option<String>,
    /// Matches played at the same time; further requests wait in the queue.
    #[arg(long, env = "EXECUTOR_MAX_CONCURRENT_MATCHES", default_value_t = 4)]
    pub max_concurrent_matches: usize,
    /// Requests allowed to wait for a free slot; beyond it `RunMatch` answers `RESOURCE_EXHAUSTED`.
    #[arg(long, env = "EXECUTOR_MAX_QUEUED_MATCHES", default_value_t = 64)]
    pub max_queued_matches: usize,
    /// Match time budget in seconds used when a request gives `timeout_sec = 0`.
    #[arg(long, env = "EXECUTOR_DEFAULT_TIMEOUT_SEC", default_value_t = 300)]
    pub default_timeout_sec: u32,
    /// Largest `timeout_sec` a request may ask for.
    #[arg(long, env = "EXECUTOR_MAX_TIMEOUT_SEC", default_value_t = 3600)]
    pub max_timeout_sec: u32,
    /// Time an agent has to start and answer `ready`, in milliseconds.
    #[arg(long, env = "EXECUTOR_AGENT_INIT_MS", default_value_t = 10_000)]
    pub agent_init_ms: u64,
    /// Time an agent has for each move before its time bank is drawn on, in milliseconds.
    #[arg(long, env = "EXECUTOR_AGENT_STEP_MS", default_value_t = 200)]
    pub agent_step_ms: u64,
    /// Extra thinking time an agent may spend over the whole match, in milliseconds.
    #[arg(long, env = "EXECUTOR_AGENT_BANK_MS", default_value_t = 10_000)]
    pub agent_bank_ms: u64,
    /// Errors an agent may make (timeouts, invalid actions) before it is disqualified.
    #[arg(long, env = "EXECUTOR_AGENT_MAX_ERRORS", default_value_t = 10)]
    pub agent_max_errors: u32,
    #[command(flatten)]
    pub binaries: BinaryArgs,
}

/// Where the helper binaries are; by default beside the executor's own executable.
#[derive(Debug, Clone, Args)]
pub struct BinaryArgs {
    /// Path of the `orchestrator` binary.
    #[arg(long, env = "EXECUTOR_ORCHESTRATOR_BIN")]
    pub orchestrator_bin: Option<PathBuf>,
    /// Path of the `agent-init` binary.
    #[arg(long, env = "EXECUTOR_AGENT_INIT_BIN")]
    pub agent_init_bin: Option<PathBuf>,
    /// Python interpreter the orchestrator uses for Python module agents.
    #[arg(long, env = "EXECUTOR_PYTHON", default_value = "python3")]
    pub python: String,
}

/// Options of `executor play`.
#[derive(Debug, Clone, Args)]
pub struct PlayArgs {
    /// Agent directories, archives or `file://` URLs, one per player in seat order.
    #[arg(required = true, num_args = 1..)]
    pub agents: Vec<String>,
    /// Environment to play.
    #[arg(long = "env", env = "EXECUTOR_PLAY_ENV", default_value = "pong")]
    pub environment: String,
    /// Match id; a fresh one is made when omitted.
    #[arg(long, env = "EXECUTOR_PLAY_MATCH_ID")]
    pub match_id: Option<String>,
    /// Seed; 0 lets the executor pick one.
    #[arg(long, env = "EXECUTOR_PLAY_SEED", default_value_t = 0)]
    pub seed: u64,
    /// Environment configuration as a JSON object, for example '{"winning_score": 3}'.
    #[arg(long, env = "EXECUTOR_PLAY_CONFIG")]
    pub config: Option<String>,
    /// Match time budget in seconds (0: the executor's default).
    #[arg(long, env = "EXECUTOR_PLAY_TIMEOUT_SEC", default_value_t = 0)]
    pub timeout_sec: u32,
    /// Address of a running executor, such as http://127.0.0.1:50051; without it an embedded one is used.
    #[arg(long, env = "EXECUTOR_PLAY_ADDR")]
    pub addr: Option<String>,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}
