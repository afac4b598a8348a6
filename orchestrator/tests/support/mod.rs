//! Shared helpers of the orchestrator's integration tests: agent directories copied into a temp dir, spec
//! files, running the real binary (a match, or `check-agent`), reading its result and replay, and checking that no
//! agent process survived.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use proto::outcome::{AgentOutcome, AgentStatus, MatchOutcome, MatchStatus};
use proto::process::orchestrator::{AgentCheck, CheckAgent, Exit, LogFormat};
use proto::replay::Replay;
use serde_json::{Value, json};

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
        Self {
            dir: tempfile::tempdir().expect("creating a temp dir"),
            environment: environment.to_string(),
            agents: Vec::new(),
            config: json!({}),
            limits: json!({ "init_ms": 10_000, "step_ms": 500, "bank_ms": 0, "max_errors": 3 }),
            seed: 42,
        }
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
        let mut command = std::process::Command::new(BIN);
        command
            .arg("run")
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
        let seat = self
            .agents
            .iter()
            .position(|(a, _)| a == id)
            .unwrap_or_else(|| panic!("no agent {id}"));
        self.scratch_root().join(format!("agent-{}", seat + 1))
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

/// Whether a process exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => process_state(&stat).is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
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
