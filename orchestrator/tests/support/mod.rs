//! Shared helpers of the orchestrator's integration tests: agent directories copied into a temp dir, spec
//! files, running the real binary (a match, or `check-agent`), reading its result and replay, and checking that no
//! agent process survived.

#![allow(dead_code)]

pub mod network;
pub mod python;
pub mod shims;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use proto::outcome::{AgentOutcome, AgentStatus, MatchOutcome, MatchStatus};
use proto::process::orchestrator::{AgentCheck, CheckAgent, Exit, LogFormat};
use proto::replay::Replay;
use serde_json::{Value, json};

pub use python::agent_python;

/// The orchestrator binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_orchestrator");

/// An example agent in `examples/agents/`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/agents")
        .join(name)
}

/// A test agent in `orchestrator/tests/agents/`.
pub fn test_agent(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/agents")
        .join(name)
}

/// A hostile test agent in `orchestrator/tests/agents/hostile/`.
pub fn hostile(name: &str) -> PathBuf {
    test_agent("hostile").join(name)
}

/// Peak resident memory the orchestrator may reach in any hostile case, in KiB.
pub const ORCHESTRATOR_PEAK_RSS_KIB: u64 = 100 * 1024;

/// A match under construction in its own temp dir.
pub struct Arena {
    pub dir: tempfile::TempDir,
    pub environment: String,
    agents: Vec<(String, PathBuf)>,
    pub config: Value,
    pub limits: Value,
    pub seed: u64,
    /// The unprivileged uid the orchestrator runs as (through `setpriv`), `None` for the test's own user.
    user: Option<u32>,
}

/// How the orchestrator of a test runs: as the test's user (root on CI: agents then get dedicated users), or
/// under an unprivileged uid of its own, where the filters alone must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AsIs,
    Unprivileged,
}

/// The unprivileged uid (and gid) tests run the orchestrator as; outside the orchestrator's agent range.
pub const UNPRIVILEGED_UID: u32 = 2_999_001;

/// Whether the tests run as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// What one run of the binary left behind.
pub struct Run {
    pub output: Output,
    pub outcome: MatchOutcome,
    pub result_bytes: Vec<u8>,
    pub replay_bytes: Option<Vec<u8>>,
    /// Agent directories (the copies the agents ran in), in seat order.
    pub agent_dirs: Vec<PathBuf>,
    /// The agents' scratch directories, in seat order.
    pub scratch_dirs: Vec<PathBuf>,
}

impl Arena {
    /// A pong match of 40 steps with small limits that keep tests fast.
    #[track_caller]
    pub fn pong() -> Self {
        Self::game("pong").config(json!({ "max_steps": 40, "winning_score": 1000 }))
    }

    /// A match of `environment` with its default config and small limits.
    #[track_caller]
    pub fn game(environment: &str) -> Self {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        // Agents with dedicated users must reach their directories: searchable, not listable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .expect("opening the temp dir");
        Self {
            dir,
            environment: environment.to_string(),
            agents: Vec::new(),
            config: json!({}),
            limits: json!({ "init_ms": 10_000, "step_ms": 500, "bank_ms": 0, "max_errors": 3 }),
            seed: 42,
            user: None,
        }
    }

    /// Runs the orchestrator in `mode`. `Unprivileged` needs root to switch users; a test that is not root
    /// already runs unprivileged.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.user = (mode == Mode::Unprivileged && is_root()).then_some(UNPRIVILEGED_UID);
        if mode == Mode::Unprivileged && !is_root() {
            println!(
                "the tests do not run as root: the orchestrator runs unprivileged as the test's user"
            );
        }
        self
    }

    /// Seats an agent: a copy of `source` (so that agents may write into their directory).
    #[track_caller]
    pub fn agent(mut self, id: &str, source: &Path) -> Self {
        let dest = self.dir.path().join("agents").join(id);
        copy_dir(source, &dest);
        self.agents.push((id.to_string(), dest));
        self
    }

    /// Seats an agent at a directory as it is (for directories that must not exist or stay empty).
    pub fn agent_at(mut self, id: &str, dir: PathBuf) -> Self {
        self.agents.push((id.to_string(), dir));
        self
    }

    pub fn config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    pub fn limit(mut self, key: &str, value: Value) -> Self {
        self.limits[key] = value;
        self
    }

    /// The spec document.
    pub fn spec(&self) -> Value {
        json!({
            "match_id": "test-match",
            "environment": self.environment,
            "config": self.config,
            "seed": self.seed,
            "agents": self.agents.iter().map(|(id, dir)| json!({"agent_id": id, "dir": dir})).collect::<Vec<_>>(),
            "limits": self.limits,
        })
    }

    /// Writes the spec and returns its path.
    #[track_caller]
    pub fn write_spec(&self) -> PathBuf {
        let path = self.dir.path().join("spec.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&self.spec()).unwrap())
            .expect("writing the spec");
        path
    }

    pub fn result_path(&self) -> PathBuf {
        self.dir.path().join("result.json")
    }

    pub fn replay_path(&self) -> PathBuf {
        self.dir.path().join("replay.json")
    }

    /// Runs `orchestrator run` with the result and replay files, plus `extra` arguments; expects exit 0.
    #[track_caller]
    pub fn run(&self, extra: &[&str]) -> Run {
        let output = self
            .command(extra)
            .output()
            .expect("running the orchestrator");
        self.collect(output)
    }

    /// The `orchestrator run` command of this arena (the spec is written), for tests that drive it.
    #[track_caller]
    pub fn command(&self, extra: &[&str]) -> std::process::Command {
        let spec = self.write_spec();
        let mut command = match self.user {
            Some(uid) => {
                // The orchestrator's user owns the match's files, as in a pod.
                chown_tree(self.dir.path(), uid);
                let mut command = std::process::Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(BIN);
                command
            }
            None => std::process::Command::new(BIN),
        };
        if !extra.contains(&"--python") {
            command.arg("run").arg("--python").arg(agent_python());
        } else {
            command.arg("run");
        }
        command
            .arg("--spec")
            .arg(&spec)
            .arg("--result-file")
            .arg(self.result_path())
            .arg("--replay-out")
            .arg(self.replay_path())
            .arg("--scratch-dir")
            .arg(self.scratch_root())
            .args(extra);
        command
    }

    /// Where the agents' scratch directories are kept (`agent-N` inside).
    pub fn scratch_root(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }

    /// The scratch directory (the agent's `HOME`) of the agent `id`.
    #[track_caller]
    pub fn scratch_dir(&self, id: &str) -> PathBuf {
        self.scratch_root()
            .join(format!("agent-{}", self.seat(id) + 1))
    }

    /// The seat (0-based) of agent `id`.
    #[track_caller]
    pub fn seat(&self, id: &str) -> usize {
        self.agents
            .iter()
            .position(|(a, _)| a == id)
            .unwrap_or_else(|| panic!("no agent {id}"))
    }

    /// The directory the agent `id` runs in.
    #[track_caller]
    pub fn agent_dir(&self, id: &str) -> PathBuf {
        self.agents
            .iter()
            .find(|(a, _)| a == id)
            .map(|(_, dir)| dir.clone())
            .unwrap_or_else(|| panic!("no agent {id}"))
    }

    /// Reads what a finished run wrote; the run must have exited with 0.
    #[track_caller]
    pub fn collect(&self, output: Output) -> Run {
        assert!(
            output.status.success(),
            "orchestrator failed: {:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let result_bytes = std::fs::read(self.result_path()).expect("the result file is written");
        let outcome: MatchOutcome =
            serde_json::from_slice(&result_bytes).expect("the result file is an outcome");
        let replay_bytes = std::fs::read(self.replay_path()).ok();
        Run {
            output,
            outcome,
            result_bytes,
            replay_bytes,
            agent_dirs: self.agents.iter().map(|(_, dir)| dir.clone()).collect(),
            scratch_dirs: (1..=self.agents.len())
                .map(|seat| self.scratch_root().join(format!("agent-{seat}")))
                .collect(),
        }
    }
}

impl Run {
    /// The outcome of the agent with `id`.
    #[track_caller]
    pub fn agent(&self, id: &str) -> &AgentOutcome {
        self.outcome
            .agents
            .iter()
            .find(|a| a.agent_id == id)
            .unwrap_or_else(|| panic!("no agent {id} in {:?}", self.outcome))
    }

    /// The replay document.
    #[track_caller]
    pub fn replay(&self) -> Replay {
        serde_json::from_slice(self.replay_bytes.as_deref().expect("a replay was written"))
            .expect("the replay file is a replay")
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The agent process ids: those the orchestrator logged when starting agents, and those agents wrote
    /// into a `pids` file in their directory or their scratch directory (`$HOME`), helpers included.
    pub fn agent_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .stderr()
            .lines()
            .filter(|line| line.contains("agent started"))
            .filter_map(|line| {
                let digits: String = line
                    .split_once("pid=")?
                    .1
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
            .collect();
        for (dir, scratch) in self.agent_dirs.iter().zip(&self.scratch_dirs) {
            for file in [dir.join("pids"), scratch.join("pids")] {
                let Ok(text) = std::fs::read_to_string(file) else {
                    continue;
                };
                pids.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
        }
        pids
    }

    /// Checks that no agent process (see [`Run::agent_pids`]) is running and that no process is left in the
    /// process groups the agents led.
    #[track_caller]
    pub fn assert_no_agent_process_left(&self) {
        let pids = self.agent_pids();
        assert!(
            !pids.is_empty(),
            "no agent pid is known; the check would prove nothing"
        );
        for pid in pids {
            assert!(!is_alive(pid), "agent process {pid} is still running");
            let left = group_members(pid);
            assert!(
                left.is_empty(),
                "processes {left:?} are left in agent process group {pid}"
            );
        }
    }
}

impl Run {
    /// The orchestrator's peak resident memory as it logged it at the end of the match, in KiB.
    #[track_caller]
    pub fn peak_rss_kib(&self) -> u64 {
        let stderr = self.stderr();
        let value = stderr
            .split("peak_rss_kib=")
            .nth(1)
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse().ok());
        value.unwrap_or_else(|| panic!("the orchestrator logged no peak_rss_kib:\n{stderr}"))
    }

    /// Checks that the orchestrator's memory stayed bounded whatever the agents did.
    #[track_caller]
    pub fn assert_memory_bounded(&self) {
        let peak = self.peak_rss_kib();
        assert!(
            peak > 0 && peak < ORCHESTRATOR_PEAK_RSS_KIB,
            "orchestrator peak RSS {peak} KiB is not below {ORCHESTRATOR_PEAK_RSS_KIB} KiB"
        );
    }

    /// Whether `layer` was in force for agent `id`; says so on the test output when it was not.
    #[track_caller]
    pub fn has_layer(&self, id: &str, layer: &str) -> bool {
        let isolation = &self.agent(id).isolation;
        let applied = isolation.applied.iter().any(|l| l == layer);
        if !applied {
            println!(
                "isolation layer {layer} is not in force for {id} on this machine ({:?}); checking the next \
                 layer down",
                isolation.unavailable
            );
        }
        applied
    }

    /// The end every hostile case must reach: the match completed with a result, the hostile agent is
    /// charged with `status`, the opponent wins, no agent process is left, the orchestrator's memory is
    /// bounded, and the outcome and replay say which isolation layers were in force.
    #[track_caller]
    pub fn assert_hostile_lost(&self, hostile: &str, opponent: &str, status: AgentStatus) {
        assert!(
            matches!(self.outcome.status, MatchStatus::Success),
            "the match must complete with a result: {:?}\n{}",
            self.outcome,
            self.stderr()
        );
        let charged = self.agent(hostile);
        assert_eq!(charged.status, status, "{charged:?}");
        assert!(charged.errors >= 1, "{charged:?}");
        assert_eq!(
            self.outcome.winner.as_deref(),
            Some(opponent),
            "{:?}",
            self.outcome
        );
        for agent in &self.outcome.agents {
            assert!(
                agent.isolation.applied.iter().any(|l| l == "bounded_io"),
                "isolation is reported: {agent:?}"
            );
        }
        if let Some(bytes) = &self.replay_bytes {
            let replay: Replay =
                serde_json::from_slice(bytes).expect("the replay file is a replay");
            let recorded = replay.outcome.expect("the replay records the outcome");
            assert_eq!(
                recorded.agents[0].isolation,
                self.outcome.agents[0].isolation
            );
        }
        self.assert_no_agent_process_left();
        self.assert_memory_bounded();
    }
}

/// Runs `check-agent` on `dir` with `memory_mb` and `timeout_ms`; it must have printed its report.
#[track_caller]
pub fn check_agent(dir: &Path, memory_mb: u64, timeout_ms: u64) -> AgentCheck {
    let args = CheckAgent {
        dir: dir.to_path_buf(),
        python: None,
        memory_mb,
        timeout_ms,
        log_format: LogFormat::Json,
    }
    .args();
    let output = std::process::Command::new(BIN).args(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(i32::from(Exit::Finished.code())),
        "{output:?}"
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// The pids listed in a `pids` file an agent wrote.
pub fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether a process exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => process_state(&stat).is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// The states of every thread of process `pid` (`R`, `S`, `T` ...); empty once it is gone.
pub fn thread_states(pid: i32) -> Vec<char> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|t| {
                    process_state(&std::fs::read_to_string(t.path().join("stat")).ok()?)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Living processes whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            let fields: Vec<&str> = after.split_whitespace().collect();
            // Fields after the command: state, ppid, pgrp.
            fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) && is_alive(pid)
        })
        .collect()
}

fn process_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Hands a directory tree to `uid` (and the group of the same number).
#[track_caller]
pub fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("handing over a test file");
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for entry in std::fs::read_dir(path)
            .expect("listing a test dir")
            .flatten()
        {
            chown_tree(&entry.path(), uid);
        }
    }
}

/// Copies a directory tree (files and subdirectories), keeping file modes.
#[track_caller]
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating an agent dir");
    for entry in
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()))
    {
        let entry = entry.expect("reading a dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying an agent file");
        }
    }
}

/// Declares, inside a module named `$name`, a test running `$body(Mode::AsIs)` and one running
/// `$body(Mode::Unprivileged)`: every hostile case holds whichever user the orchestrator runs as.
#[macro_export]
macro_rules! in_both_modes {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn as_is() {
                super::$body(super::support::Mode::AsIs)
            }

            #[test]
            fn unprivileged() {
                super::$body(super::support::Mode::Unprivileged)
            }
        }
    };
}

impl Arena {
    /// Writes the plan of the `attacker` agent seated as `id` (see `tests/agents/hostile/attacker`).
    #[track_caller]
    pub fn plan(self, id: &str, plan: Value) -> Self {
        let path = self.agent_dir(id).join("plan.json");
        std::fs::write(path, serde_json::to_vec(&plan).unwrap()).expect("writing the plan");
        self
    }
}

impl Run {
    /// The attacks the agent `id` reported as denied, and those it reported as anything else.
    #[track_caller]
    pub fn attacks(&self, id: &str) -> (Vec<String>, Vec<String>) {
        let mut denied = Vec::new();
        let mut other = Vec::new();
        for line in self.agent(id).stderr_tail.lines() {
            let Some((name, result)) = line
                .strip_prefix("attack ")
                .and_then(|l| l.split_once(": "))
            else {
                continue;
            };
            if result.starts_with("denied") {
                denied.push(name.to_string());
            } else {
                other.push(line.to_string());
            }
        }
        (denied, other)
    }

    /// Checks that the agent `id` reported every attack of `names` as denied.
    #[track_caller]
    pub fn assert_denied(&self, id: &str, names: &[&str]) {
        let (denied, other) = self.attacks(id);
        for name in names {
            assert!(
                denied.iter().any(|d| d == name),
                "attack {name} was not denied: {other:?}\n{}",
                self.agent(id).stderr_tail
            );
        }
    }

    /// Checks that the agent `id` played the whole match unaffected: no error, not out.
    #[track_caller]
    pub fn assert_unaffected(&self, id: &str) {
        let agent = self.agent(id);
        assert_eq!(agent.status, AgentStatus::Ok, "{agent:?}");
        assert_eq!(agent.errors, 0, "{agent:?}");
    }
}

/// Files of the host an agent must not change: a root-owned 0600 canary and a copy of a system binary,
/// in a directory of their own.
pub struct Canaries {
    pub dir: tempfile::TempDir,
    pub canary: PathBuf,
    pub binary: PathBuf,
    before: Vec<String>,
}

impl Canaries {
    #[track_caller]
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("creating the canaries' dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let canary = dir.path().join("canary");
        std::fs::write(&canary, "canary: nobody may read or change this\n").unwrap();
        std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o600)).unwrap();
        let binary = dir.path().join("true");
        std::fs::copy("/bin/true", &binary).expect("copying a system binary");
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut canaries = Self {
            dir,
            canary,
            binary,
            before: Vec::new(),
        };
        canaries.before = canaries.state();
        canaries
    }

    /// Mode, owner, times, content and extended attributes of every file.
    fn state(&self) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        [&self.canary, &self.binary]
            .iter()
            .map(|path| {
                let meta = std::fs::metadata(path).expect("a canary file");
                let content = std::fs::read(path).expect("reading a canary");
                format!(
                    "{}: mode {:o} owner {}:{} mtime {}.{} size {} sum {} xattrs {:?}",
                    path.display(),
                    meta.mode(),
                    meta.uid(),
                    meta.gid(),
                    meta.mtime(),
                    meta.mtime_nsec(),
                    meta.len(),
                    content.iter().map(|&b| u64::from(b)).sum::<u64>(),
                    xattrs(path)
                )
            })
            .collect()
    }

    /// Checks that no canary changed.
    #[track_caller]
    pub fn assert_untouched(&self) {
        assert_eq!(self.state(), self.before, "a host file changed");
    }
}

/// The extended attribute names of `path` (read through Python, which wraps the system calls).
pub fn xattrs(path: &Path) -> String {
    let out = std::process::Command::new(agent_python())
        .args([
            "-c",
            "import os, sys; print(sorted(os.listxattr(sys.argv[1], follow_symlinks=False)))",
        ])
        .arg(path)
        .output()
        .expect("listing extended attributes");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
