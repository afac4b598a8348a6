//! The command line of the `orchestrator` binary; every flag can also be set from the environment.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plays one RL Arena match between agents and reports its result.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version)]
pub struct Cli {
    /// Log output: `pretty` for people, `json` for log collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "pretty",
        env = "ORCHESTRATOR_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// What the binary can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play the match described by a spec file.
    Run(Box<RunConfig>),
    /// Re-simulate a recorded replay (JSON or gzip) and check every step, state hash and the result.
    Verify(VerifyArgs),
    /// Check an installed agent without playing: how it would be started and, for a Python module, that it
    /// parses and defines an entry point. Its files are read with the agent's memory limit, the Python code
    /// inside the agent sandbox. Prints the report as JSON on stdout.
    CheckAgent(CheckAgentArgs),
}

/// Options of `orchestrator check-agent`.
#[derive(Debug, Clone, Args)]
pub struct CheckAgentArgs {
    /// The installed agent's directory.
    #[arg(long, env = "ORCHESTRATOR_CHECK_DIR")]
    pub(crate) dir: PathBuf,

    /// Python interpreter of `agent.py` / `main.py` agents.
    #[arg(long, default_value = "python3", env = "ORCHESTRATOR_PYTHON")]
    pub(crate) python: PathBuf,

    /// The agent's address-space limit in MiB, under which its files are read and its code parsed.
    #[arg(long, default_value_t = 2048, env = "ORCHESTRATOR_CHECK_MEMORY_MB")]
    pub(crate) memory_mb: u64,

    /// How long checking the code may take, in milliseconds.
    #[arg(long, default_value_t = 30_000, env = "ORCHESTRATOR_CHECK_TIMEOUT_MS")]
    pub(crate) timeout_ms: u64,

    #[command(flatten)]
    pub(crate) sandbox: SandboxConfig,
}

/// Options of `orchestrator verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The replay file to check.
    #[arg(env = "ORCHESTRATOR_VERIFY_REPLAY")]
    pub replay: PathBuf,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl LogFormat {
    /// How the lines look: plain text, or JSON with the fields at the top level.
    pub fn lines(self) -> common::telemetry::Format {
        match self {
            LogFormat::Pretty => common::telemetry::Format::Text {
                compact: false,
                plain: true,
            },
            LogFormat::Json => common::telemetry::Format::Json { flatten: true },
        }
    }
}

/// Options of `orchestrator run`.
#[derive(Debug, Clone, Args)]
pub struct RunConfig {
    /// The match spec (JSON) to play.
    #[arg(long, env = "ORCHESTRATOR_SPEC")]
    pub(crate) spec: PathBuf,

    /// The executor's MatchReporter address (for example http://127.0.0.1:50052); events are streamed there.
    #[arg(long, env = "ORCHESTRATOR_REPORT_TO", requires = "token_file")]
    pub(crate) report_to: Option<String>,

    /// File holding the match's report token, sent as `authorization: Bearer <token>`.
    #[arg(long, env = "ORCHESTRATOR_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,

    /// Where to write the outcome (JSON); written whenever the match produced a result.
    #[arg(long, env = "ORCHESTRATOR_RESULT_FILE")]
    pub(crate) result_file: Option<PathBuf>,

    /// Largest result file in bytes (0: no limit). A Kubernetes termination message holds at most 4096 bytes:
    /// longer outcomes are shortened, stderr tails first, then long messages.
    #[arg(long, default_value_t = 0, env = "ORCHESTRATOR_RESULT_MAX_BYTES")]
    pub(crate) result_max_bytes: usize,

    /// Where to write the replay (JSON) when the spec asks to record one.
    #[arg(long, env = "ORCHESTRATOR_REPLAY_OUT")]
    pub(crate) replay_out: Option<PathBuf>,

    /// Python interpreter that runs `agent.py` / `main.py` agents through the built-in adapter.
    #[arg(long, default_value = "python3", env = "ORCHESTRATOR_PYTHON")]
    pub(crate) python: PathBuf,

    /// How long to keep retrying the report stream after it fails, in milliseconds, before giving up on it.
    #[arg(long, default_value_t = 30_000, env = "ORCHESTRATOR_REPORT_RETRY_MS")]
    pub(crate) report_retry_ms: u64,

    /// Sockets of the seats whose agents run in containers of their own (comma-separated, one per seat in
    /// seat order): the orchestrator listens on each, and the seat's `agent-shim run` connects to it and
    /// starts the agent there. Without them, agents run as child processes of the orchestrator.
    #[arg(long, value_delimiter = ',', env = "ORCHESTRATOR_SEAT_SOCKETS")]
    pub(crate) seat_socket: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) sandbox: SandboxConfig,
}

/// How agents are isolated.
#[derive(Debug, Clone, Args)]
pub(crate) struct SandboxConfig {
    /// Isolation layers every match needs (comma-separated, such as `seccomp,landlock_fs`); when one is
    /// unavailable, no agent is started and the match ends with an error.
    #[arg(long, value_delimiter = ',', env = "ORCHESTRATOR_REQUIRE_ISOLATION")]
    pub(crate) require_isolation: Vec<String>,

    /// Isolation layers to switch off (comma-separated), for agent runtimes that cannot live with them.
    #[arg(long, value_delimiter = ',', env = "ORCHESTRATOR_DISABLE_ISOLATION")]
    pub(crate) disable_isolation: Vec<String>,

    /// Extra directories agents may read and execute (comma-separated), for runtimes outside /usr.
    #[arg(long, value_delimiter = ',', env = "ORCHESTRATOR_AGENT_READ_PATHS")]
    pub(crate) agent_read_paths: Vec<PathBuf>,

    /// Directory in which the agents' private writable directories (`agent-1`, `agent-2`, ...) are made and
    /// kept after the match, for inspection. By default they live in a temporary directory that is removed
    /// when the match ends.
    #[arg(long, env = "ORCHESTRATOR_SCRATCH_DIR")]
    pub(crate) scratch_dir: Option<PathBuf>,

    /// First uid (and gid) of the range agents run as when the orchestrator may change user ids (root, or
    /// CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_KILL): each seat gets one of its own, used by nothing else.
    #[arg(long, default_value_t = 3_000_000, env = "ORCHESTRATOR_AGENT_UID_BASE")]
    pub(crate) agent_uid_base: u32,

    /// How many uids the agent range holds (two per running two-player match).
    #[arg(long, default_value_t = 1000, env = "ORCHESTRATOR_AGENT_UID_COUNT")]
    pub(crate) agent_uid_count: u32,

    /// Directory of the agent uids' lock files, shared by every orchestrator of the machine that uses the
    /// same range (created with mode 0700 when missing).
    #[arg(
        long,
        default_value = "/run/rl-arena/agent-uids",
        env = "ORCHESTRATOR_AGENT_UID_LOCK_DIR"
    )]
    pub(crate) agent_uid_lock_dir: PathBuf,
}

impl SandboxConfig {
    /// The options the match loop takes.
    pub(crate) fn options(&self) -> crate::sandbox::SandboxOptions {
        crate::sandbox::SandboxOptions {
            required: self.require_isolation.clone(),
            disabled: self.disable_isolation.clone(),
            read_paths: self.agent_read_paths.clone(),
            scratch_root: self.scratch_dir.clone(),
            uids: Some(crate::sandbox::UidRange {
                base: self.agent_uid_base,
                count: self.agent_uid_count,
                lock_dir: self.agent_uid_lock_dir.clone(),
            }),
            own_user: None,
        }
    }
}

impl RunConfig {
    /// Where the agents run.
    pub(crate) fn hosting(&self) -> crate::agent::Hosting {
        if self.seat_socket.is_empty() {
            crate::agent::Hosting::Local
        } else {
            crate::agent::Hosting::Containers(self.seat_socket.clone())
        }
    }

    /// The report stream's retry budget.
    pub(crate) fn report_retry(&self) -> Duration {
        Duration::from_millis(self.report_retry_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use clap::Parser;
    use proto::process::orchestrator::{self as contract, Report, Run};

    use super::*;

    /// What the executor builds (`proto::process::orchestrator::Run`) parses into the same values here.
    #[test]
    fn the_executors_command_lines_parse_into_the_same_values() {
        let full = Run {
            report: Some(Report {
                to: "http://127.0.0.1:50051".into(),
                token_file: "/w/token".into(),
                retry_ms: Some(3000),
            }),
            result_file: Some("/dev/termination-log".into()),
            result_max_bytes: Some(4096),
            replay_out: Some("/w/replay.json".into()),
            python: Some("/opt/python/bin/python3".into()),
            scratch_dir: Some("/w/scratch".into()),
            require_isolation: vec!["seccomp".into(), "landlock_fs".into()],
            seat_sockets: vec![
                "/run/rl-arena/seats/agent-1/seat.sock".into(),
                "/run/rl-arena/seats/agent-2/seat.sock".into(),
            ],
            log_format: contract::LogFormat::Json,
            ..Run::new("/etc/rl-arena/spec.json")
        };
        for run in [Run::new("spec.json"), full] {
            let argv: Vec<OsString> = std::iter::once("orchestrator".into())
                .chain(run.args())
                .collect();
            let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let format = match run.log_format {
                contract::LogFormat::Pretty => LogFormat::Pretty,
                contract::LogFormat::Json => LogFormat::Json,
            };
            assert_eq!(cli.log_format, format);
            let Command::Run(config) = cli.command else {
                panic!("{argv:?} is not a run");
            };
            assert_eq!(config.spec, run.spec);
            assert_eq!(config.report_to, run.report.as_ref().map(|r| r.to.clone()));
            assert_eq!(
                config.token_file,
                run.report.as_ref().map(|r| r.token_file.clone())
            );
            let retry = run.report.as_ref().and_then(|r| r.retry_ms);
            assert_eq!(config.report_retry_ms, retry.unwrap_or(30_000));
            assert_eq!(config.result_file, run.result_file);
            assert_eq!(config.result_max_bytes, run.result_max_bytes.unwrap_or(0));
            assert_eq!(config.replay_out, run.replay_out);
            assert_eq!(config.sandbox.require_isolation, run.require_isolation);
            assert_eq!(config.seat_socket, run.seat_sockets);
            assert_eq!(config.sandbox.scratch_dir, run.scratch_dir);
            assert_eq!(
                config.python,
                run.python
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("python3"))
            );
        }
    }

    /// What `ValidateAgent` builds (`proto::process::orchestrator::CheckAgent`) parses into the same values here.
    #[test]
    fn the_executors_check_command_line_parses_into_the_same_values() {
        for python in [None, Some(PathBuf::from("/opt/python/bin/python3"))] {
            let check = contract::CheckAgent {
                dir: "/tmp/validate-1/agent".into(),
                python: python.clone(),
                memory_mb: 256,
                timeout_ms: 15_000,
                log_format: contract::LogFormat::Json,
            };
            let argv: Vec<OsString> = std::iter::once("orchestrator".into())
                .chain(check.args())
                .collect();
            let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert_eq!(cli.log_format, LogFormat::Json);
            let Command::CheckAgent(args) = cli.command else {
                panic!("{argv:?} is not a check");
            };
            assert_eq!(args.dir, check.dir);
            assert_eq!(
                args.python,
                python.unwrap_or_else(|| PathBuf::from("python3"))
            );
            assert_eq!(args.memory_mb, check.memory_mb);
            assert_eq!(args.timeout_ms, check.timeout_ms);
        }
    }
}
