//! `orchestrator`: plays one match (`run`, [`Run`]) or checks an installed agent without playing
//! (`check-agent`, [`CheckAgent`], which prints an [`AgentCheck`]). Both exit with the codes of [`Exit`].

use std::ffi::OsString;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::outcome::Isolation;

/// `orchestrator run --spec FILE [--report-to URL --token-file FILE] [--result-file FILE] ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The match spec (`crate::spec::MatchSpec`, JSON).
    pub spec: PathBuf,
    /// Where the match's events are streamed, and with which token.
    pub report: Option<Report>,
    /// Where the outcome (`crate::outcome::MatchOutcome`, JSON) is written.
    pub result_file: Option<PathBuf>,
    /// Largest result file in bytes; longer outcomes are shortened (a termination message holds 4096).
    pub result_max_bytes: Option<usize>,
    /// Where the replay is written when the spec records one.
    pub replay_out: Option<PathBuf>,
    /// The Python interpreter of Python module agents.
    pub python: Option<PathBuf>,
    /// Where the agents' scratch directories are made and kept (`--scratch-dir`); `None` for a temporary
    /// directory removed with the match.
    pub scratch_dir: Option<PathBuf>,
    /// Isolation layers every agent must get, or the match fails (`--require-isolation`).
    pub require_isolation: Vec<String>,
    /// The seats' sockets, one per seat in seat order, when the agents run in containers of their own
    /// (`--seat-socket`; each seat's `agent-shim run` connects to its own); empty: agents are child processes.
    pub seat_sockets: Vec<PathBuf>,
    pub log_format: LogFormat,
}

/// Where a match reports to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The executor's `MatchReporter` address, such as `http://127.0.0.1:50051`.
    pub to: String,
    /// The file holding the match's report token.
    pub token_file: PathBuf,
    /// How long to keep retrying a failed report stream, in milliseconds; `None` leaves the orchestrator's
    /// default.
    pub retry_ms: Option<u64>,
}

/// How the orchestrator writes its log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For people.
    #[default]
    Pretty,
    /// JSON lines, for log collectors and the executor.
    Json,
}

impl LogFormat {
    /// The value of `--log-format`.
    pub const fn as_arg(self) -> &'static str {
        match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        }
    }
}

impl Run {
    /// A run of `spec` with nothing else set.
    pub fn new(spec: impl Into<PathBuf>) -> Self {
        Self {
            spec: spec.into(),
            report: None,
            result_file: None,
            result_max_bytes: None,
            replay_out: None,
            python: None,
            scratch_dir: None,
            require_isolation: Vec::new(),
            seat_sockets: Vec::new(),
            log_format: LogFormat::default(),
        }
    }

    /// The arguments after the program name, the subcommand first.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["run".into(), "--spec".into(), self.spec.clone().into()];
        if let Some(report) = &self.report {
            args.extend([
                "--report-to".into(),
                report.to.clone().into(),
                "--token-file".into(),
                report.token_file.clone().into(),
            ]);
            if let Some(retry) = report.retry_ms {
                args.extend(["--report-retry-ms".into(), retry.to_string().into()]);
            }
        }
        if let Some(file) = &self.result_file {
            args.extend(["--result-file".into(), file.clone().into()]);
        }
        if let Some(max) = self.result_max_bytes {
            args.extend(["--result-max-bytes".into(), max.to_string().into()]);
        }
        if let Some(file) = &self.replay_out {
            args.extend(["--replay-out".into(), file.clone().into()]);
        }
        if let Some(python) = &self.python {
            args.extend(["--python".into(), python.clone().into()]);
        }
        if let Some(dir) = &self.scratch_dir {
            args.extend(["--scratch-dir".into(), dir.clone().into()]);
        }
        if !self.require_isolation.is_empty() {
            args.extend([
                "--require-isolation".into(),
                self.require_isolation.join(",").into(),
            ]);
        }
        // One flag per seat: each path stays an argument of its own (a node maps each to its volume).
        for socket in &self.seat_sockets {
            args.extend(["--seat-socket".into(), socket.clone().into()]);
        }
        args.extend(["--log-format".into(), self.log_format.as_arg().into()]);
        args
    }
}

/// `orchestrator check-agent --dir DIR [--python P] --memory-mb N --timeout-ms T`: how the agent in `dir` would
/// be started, and whether its code can run at all (a Python module must parse and define an entry point).
/// Everything that reads the agent's files runs with the agent's memory limit, the Python check inside the
/// agent sandbox. Prints an [`AgentCheck`] as JSON on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckAgent {
    /// The installed agent's directory.
    pub dir: PathBuf,
    /// The Python interpreter of Python module agents.
    pub python: Option<PathBuf>,
    /// The agent's address-space limit in MiB, under which its files are read and parsed.
    pub memory_mb: u64,
    /// How long the check may take, in milliseconds.
    pub timeout_ms: u64,
    pub log_format: LogFormat,
}

impl CheckAgent {
    /// The arguments after the program name, the subcommand first.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "check-agent".into(),
            "--dir".into(),
            self.dir.clone().into(),
            "--memory-mb".into(),
            self.memory_mb.to_string().into(),
            "--timeout-ms".into(),
            self.timeout_ms.to_string().into(),
        ];
        if let Some(python) = &self.python {
            args.extend(["--python".into(), python.clone().into()]);
        }
        args.extend(["--log-format".into(), self.log_format.as_arg().into()]);
        args
    }
}

/// What `check-agent` found, printed as JSON when it could check the agent (exit `0`); the agent may play when
/// there are no errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentCheck {
    /// How the agent is started (`agent.toml`, `agent.py`, `main.py`); `None` when it cannot be started.
    pub launch: Option<String>,
    /// What keeps the agent from playing, for its author.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// The isolation the agent's code was read under, when a process read it (the Python check).
    pub isolation: Isolation,
}

/// How `orchestrator` exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did its work (`0`): `run` produced a result, whatever the match's status; `check-agent`
    /// printed its report, whatever it found.
    Finished,
    /// The orchestrator itself failed (`1`): an unreadable spec, a result that cannot be written, an agent that
    /// could not be checked.
    Failed,
    /// A usage error (`2`).
    Usage,
}

impl Exit {
    /// Every exit, in code order.
    pub const ALL: [Exit; 3] = [Exit::Finished, Exit::Failed, Exit::Usage];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Finished => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
        }
    }

    /// The exit with this code, if it is one of the orchestrator's.
    pub fn from_code(code: i32) -> Option<Self> {
        super::exit_with(&Self::ALL, code, Self::code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_what_is_set() {
        assert_eq!(
            Run::new("/etc/rl-arena/spec.json").args(),
            [
                "run",
                "--spec",
                "/etc/rl-arena/spec.json",
                "--log-format",
                "pretty"
            ]
        );
        let full = Run {
            report: Some(Report {
                to: "http://127.0.0.1:50051".into(),
                token_file: "/w/token".into(),
                retry_ms: Some(3000),
            }),
            result_file: Some("/w/result.json".into()),
            result_max_bytes: Some(4096),
            replay_out: Some("/w/replay.json".into()),
            python: Some("python3".into()),
            require_isolation: vec!["seccomp".into(), "landlock_fs".into()],
            seat_sockets: vec!["/s/agent-1/seat.sock".into(), "/s/agent-2/seat.sock".into()],
            log_format: LogFormat::Json,
            ..Run::new("/w/spec.json")
        };
        assert_eq!(
            full.args(),
            [
                "run",
                "--spec",
                "/w/spec.json",
                "--report-to",
                "http://127.0.0.1:50051",
                "--token-file",
                "/w/token",
                "--report-retry-ms",
                "3000",
                "--result-file",
                "/w/result.json",
                "--result-max-bytes",
                "4096",
                "--replay-out",
                "/w/replay.json",
                "--python",
                "python3",
                "--require-isolation",
                "seccomp,landlock_fs",
                "--seat-socket",
                "/s/agent-1/seat.sock",
                "--seat-socket",
                "/s/agent-2/seat.sock",
                "--log-format",
                "json",
            ]
        );
    }

    #[test]
    fn the_check_command_line_names_its_limits() {
        let check = CheckAgent {
            dir: "/v/agent".into(),
            python: Some("python3".into()),
            memory_mb: 256,
            timeout_ms: 30_000,
            log_format: LogFormat::Json,
        };
        assert_eq!(
            check.args(),
            [
                "check-agent",
                "--dir",
                "/v/agent",
                "--memory-mb",
                "256",
                "--timeout-ms",
                "30000",
                "--python",
                "python3",
                "--log-format",
                "json",
            ]
        );
        let report = AgentCheck {
            launch: Some("agent.py".into()),
            errors: vec!["agent.py: syntax error at line 1: invalid syntax".into()],
            ..AgentCheck::default()
        };
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<AgentCheck>(&json).unwrap(), report);
    }

    #[test]
    fn exit_codes_are_found_by_code() {
        for exit in Exit::ALL {
            assert_eq!(Exit::from_code(i32::from(exit.code())), Some(exit));
        }
        assert_eq!(Exit::from_code(3), None);
    }
}
