//! How an installed agent directory is started: `agent.toml` with a command, or a Python module through the
//! built-in adapter. The child gets a cleared environment (an allow-list of variables), its directory as cwd,
//! its scratch directory as home and temp dir, and its own process group.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use tokio::process::Command;

/// The Python adapter, run as `python3 -u -c <this source> <module file>`.
pub(crate) const PYTHON_ADAPTER: &str = include_str!("../python_adapter.py");

/// Module files the adapter runs, in order of preference.
const PYTHON_MODULES: [&str; 2] = ["agent.py", "main.py"];

/// What `agent.toml` may say.
#[derive(Debug, Deserialize)]
struct Manifest {
    /// Program and arguments; a relative program path is resolved against the agent directory.
    command: Vec<String>,
}

/// A resolved way to start an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The agent directory, absolute: the child's cwd and `HOME`.
    pub(crate) dir: PathBuf,
    pub program: OsString,
    pub(crate) args: Vec<OsString>,
    /// How the launch was found, for logs and messages (`agent.toml`, `agent.py`).
    pub kind: String,
    /// The installation of the interpreter the operator configured (its `sys.prefix` and
    /// `sys.base_prefix`), which a Python module agent must read; empty for `agent.toml` agents, whose
    /// command never widens what an agent may read.
    pub(crate) runtime: Vec<PathBuf>,
}

/// Decides how to start the agent in `dir`; `Err` is a message for the agent's author.
pub fn resolve(dir: &Path, python: &Path) -> Result<Launch, String> {
    let dir =
        std::path::absolute(dir).map_err(|e| format!("agent directory {}: {e}", dir.display()))?;
    if !dir.is_dir() {
        return Err(format!(
            "agent directory {} does not exist or is not a directory",
            dir.display()
        ));
    }
    let manifest_path = dir.join("agent.toml");
    if manifest_path.exists() {
        return from_manifest(&dir, &manifest_path);
    }
    for module in PYTHON_MODULES {
        if dir.join(module).is_file() {
            let interpreter = interpreter(python);
            return Ok(Launch {
                program: interpreter.executable.into_os_string(),
                runtime: interpreter.installation,
                args: vec![
                    "-u".into(),
                    "-c".into(),
                    PYTHON_ADAPTER.into(),
                    module.into(),
                ],
                dir,
                kind: module.to_string(),
            });
        }
    }
    Err(format!(
        "agent is not runnable: {} has no agent.toml (with command = [\"./program\", ...]) and no agent.py or \
         main.py (a Python module defining create_agent(), a subclass of rl_arena.core.agent.Agent, \
         get_action(observation), a class Agent with get_action, or act)",
        dir.display()
    ))
}

/// A Python interpreter as it describes itself.
#[derive(Debug, Clone)]
struct Interpreter {
    /// Its real executable (`sys.executable`).
    executable: PathBuf,
    /// Its installation: `sys.prefix` (a virtual environment) and `sys.base_prefix` (the interpreter it
    /// was made from).
    installation: Vec<PathBuf>,
}

/// The interpreter `python` as it describes itself, asked once per interpreter name. A bare `python3` may be
/// a launcher script (pyenv shims, for example) that the sandbox would not let run, or a different
/// interpreter than the one found on the agent's `PATH`; the real executable's installation is what the
/// sandbox lets Python agents read. Falls back to what was given, with no installation, when the
/// interpreter cannot be asked.
fn interpreter(python: &Path) -> Interpreter {
    static KNOWN: OnceLock<Mutex<HashMap<PathBuf, Interpreter>>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| Mutex::new(HashMap::new()));
    let mut known = known
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ask = || {
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import json, sys; sys.stdout.write(json.dumps([sys.executable, sys.prefix, sys.base_prefix]))",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())?;
        let paths: Vec<PathBuf> = serde_json::from_slice(&out.stdout).ok()?;
        let (executable, installation) = paths.split_first()?;
        (executable.is_absolute() && executable.is_file()).then(|| Interpreter {
            executable: executable.clone(),
            installation: installation
                .iter()
                .filter(|p| p.is_absolute())
                .cloned()
                .collect(),
        })
    };
    known
        .entry(python.to_path_buf())
        .or_insert_with(|| {
            ask().unwrap_or_else(|| Interpreter {
                executable: python.to_path_buf(),
                installation: Vec::new(),
            })
        })
        .clone()
}

fn from_manifest(dir: &Path, path: &Path) -> Result<Launch, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("agent.toml: cannot read it: {e}"))?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| {
        format!(
            "agent.toml: {}; expected command = [\"./program\", \"arg\", ...]",
            e.message()
        )
    })?;
    let mut parts = manifest.command.into_iter();
    let Some(program) = parts.next().filter(|p| !p.is_empty()) else {
        return Err(
            "agent.toml: command is empty; expected command = [\"./program\", \"arg\", ...]".into(),
        );
    };
    // A bare name is looked up on PATH; anything with a slash is a path, relative ones inside the agent dir.
    let program = if program.contains('/') && Path::new(&program).is_relative() {
        dir.join(&program).into_os_string()
    } else {
        OsString::from(program)
    };
    Ok(Launch {
        dir: dir.to_path_buf(),
        program,
        args: parts.map(OsString::from).collect(),
        kind: "agent.toml".into(),
        runtime: Vec::new(),
    })
}

impl Launch {
    /// Whether the agent's own `agent.toml` names the program (as opposed to the operator's interpreter).
    pub(crate) fn is_manifest(&self) -> bool {
        self.kind == "agent.toml"
    }

    /// The child process command: cleared environment plus an allow-list, own process group, piped stdio.
    /// `home` is the agent's writable directory (`HOME` and `TMPDIR`); without one it is the agent directory.
    /// `from_cwd` names a program inside the agent directory relative to it (the child's working directory).
    pub(crate) fn command(&self, home: Option<&Path>, from_cwd: bool) -> Command {
        let home = home.unwrap_or(&self.dir);
        let program = Path::new(&self.program);
        let mut cmd = match program.strip_prefix(&self.dir) {
            Ok(inside) if from_cwd => Command::new(Path::new(".").join(inside)),
            _ => Command::new(program),
        };
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", inherited("PATH", "/usr/local/bin:/usr/bin:/bin"))
            .env("LANG", inherited("LANG", "C.UTF-8"))
            .env("HOME", home)
            .env("TMPDIR", home)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }

    /// The command as a person would type it, for logs (the adapter source is abbreviated).
    pub(crate) fn display(&self) -> String {
        let mut parts = vec![self.program.to_string_lossy().into_owned()];
        for arg in &self.args {
            if arg == PYTHON_ADAPTER {
                parts.push("<python adapter>".into());
            } else {
                parts.push(arg.to_string_lossy().into_owned());
            }
        }
        parts.join(" ")
    }
}

fn inherited(key: &str, default: &str) -> OsString {
    std::env::var_os(key).unwrap_or_else(|| default.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        dir
    }

    #[test]
    fn manifest_program_is_resolved_against_the_agent_dir() {
        let dir = dir_with(&[
            ("agent.toml", "command = [\"./bot\", \"--fast\"]\n"),
            ("agent.py", ""),
        ]);
        let launch = resolve(dir.path(), Path::new("python3")).unwrap();
        assert_eq!(launch.kind, "agent.toml");
        assert_eq!(PathBuf::from(&launch.program), dir.path().join("./bot"));
        assert_eq!(launch.args, vec![OsString::from("--fast")]);
    }

    #[test]
    fn bare_program_names_stay_for_path_lookup() {
        let dir = dir_with(&[("agent.toml", "command = [\"awk\", \"-f\", \"bot.awk\"]\n")]);
        let launch = resolve(dir.path(), Path::new("python3")).unwrap();
        assert_eq!(launch.program, OsString::from("awk"));
    }

    #[test]
    fn python_modules_run_through_the_adapter() {
        for (files, module) in [
            (vec![("agent.py", ""), ("main.py", "")], "agent.py"),
            (vec![("main.py", "")], "main.py"),
        ] {
            let dir = dir_with(&files);
            let launch = resolve(dir.path(), Path::new("/opt/py")).unwrap();
            assert_eq!(launch.program, OsString::from("/opt/py"));
            assert_eq!(
                launch.args[..3],
                [OsString::from("-u"), "-c".into(), PYTHON_ADAPTER.into()]
            );
            assert_eq!(launch.args[3], OsString::from(module));
            assert_eq!(
                launch.display(),
                format!("/opt/py -u -c <python adapter> {module}")
            );
        }
    }

    #[test]
    fn unrunnable_agents_are_told_what_is_expected() {
        let cases = [
            (vec![("README", "")], "agent is not runnable"),
            (vec![("agent.toml", "command = []")], "command is empty"),
            (vec![("agent.toml", "cmd = 1")], "expected command = "),
        ];
        for (files, expected) in cases {
            let dir = dir_with(&files);
            let err = resolve(dir.path(), Path::new("python3")).unwrap_err();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
    }
}
