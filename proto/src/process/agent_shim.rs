//! `agent-shim`: runs one seat's agent in the agent's own container for the match's orchestrator (`run`,
//! [`ShimRun`]), or copies itself to a file that an agent's container will run (`install`, [`ShimInstall`]).
//! Both exit with the codes of [`Exit`], the orchestrator's.

use std::ffi::OsString;
use std::path::PathBuf;

use super::orchestrator::LogFormat;

/// `agent-shim run --socket PATH [--app DIR] [--python P] [--scratch-root DIR] [--agent-read-paths D,..]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimRun {
    /// The seat's Unix socket, where the orchestrator listens.
    pub socket: PathBuf,
    /// The agent's directory; `None` leaves the shim's default (`/app`, where agent images keep their code).
    pub app: Option<PathBuf>,
    /// The Python interpreter of Python module agents; `None` leaves `python3` on the container's `PATH`.
    pub python: Option<PathBuf>,
    /// The writable directory the agent's scratch directory is made in; `None` leaves `/tmp`.
    pub scratch_root: Option<PathBuf>,
    /// Extra directories the agent may read and execute.
    pub agent_read_paths: Vec<PathBuf>,
    pub log_format: LogFormat,
}

impl ShimRun {
    /// A shim for the seat listening at `socket`, with nothing else set.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            app: None,
            python: None,
            scratch_root: None,
            agent_read_paths: Vec::new(),
            log_format: LogFormat::default(),
        }
    }

    /// The arguments after the program name, the subcommand first.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> =
            vec!["run".into(), "--socket".into(), self.socket.clone().into()];
        if let Some(app) = &self.app {
            args.extend(["--app".into(), app.clone().into()]);
        }
        if let Some(python) = &self.python {
            args.extend(["--python".into(), python.clone().into()]);
        }
        if let Some(root) = &self.scratch_root {
            args.extend(["--scratch-root".into(), root.clone().into()]);
        }
        if !self.agent_read_paths.is_empty() {
            args.extend([
                "--agent-read-paths".into(),
                super::comma_list(&self.agent_read_paths),
            ]);
        }
        args.extend(["--log-format".into(), self.log_format.as_arg().into()]);
        args
    }
}

/// `agent-shim install --dest FILE`: copies the shim to `dest`, executable by everyone and read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimInstall {
    pub dest: PathBuf,
}

impl ShimInstall {
    /// The arguments after the program name, the subcommand first.
    pub fn args(&self) -> Vec<OsString> {
        vec!["install".into(), "--dest".into(), self.dest.clone().into()]
    }
}

/// How `agent-shim` exits: with the orchestrator's codes. `Finished` (0): the orchestrator ended the shim or
/// went away (it owns the result), or the copy was installed; a shim whose agent crashed ends so too (the crash
/// is the agent's, in the match's result). `Failed` (1): the shim itself failed (the seat's socket never
/// answered, the copy could not be written). `Usage` (2).
pub use super::orchestrator::Exit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_lines_name_what_is_set() {
        assert_eq!(
            ShimRun::new("/run/rl-arena/seat/seat.sock").args(),
            [
                "run",
                "--socket",
                "/run/rl-arena/seat/seat.sock",
                "--log-format",
                "pretty"
            ]
        );
        let full = ShimRun {
            app: Some("/agents/agent-2".into()),
            python: Some("/usr/local/bin/python3".into()),
            scratch_root: Some("/tmp".into()),
            agent_read_paths: vec!["/opt/conda".into(), "/models".into()],
            log_format: LogFormat::Json,
            ..ShimRun::new("/s.sock")
        };
        assert_eq!(
            full.args(),
            [
                "run",
                "--socket",
                "/s.sock",
                "--app",
                "/agents/agent-2",
                "--python",
                "/usr/local/bin/python3",
                "--scratch-root",
                "/tmp",
                "--agent-read-paths",
                "/opt/conda,/models",
                "--log-format",
                "json",
            ]
        );
        assert_eq!(
            ShimInstall {
                dest: "/rl-arena/bin/agent-shim".into()
            }
            .args(),
            ["install", "--dest", "/rl-arena/bin/agent-shim"]
        );
    }
}
