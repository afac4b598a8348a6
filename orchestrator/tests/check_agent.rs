//! `orchestrator check-agent`: how an installed agent would start and whether its code can run, read with the
//! agent's limits (the Python parse inside the agent sandbox), reported as JSON on stdout.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proto::process::orchestrator::{AgentCheck, Exit};
use support::{BIN, example};

/// Runs `check-agent` on `dir` with `memory_mb` and 30 s to finish; it must have printed its report.
#[track_caller]
fn check(dir: &Path, memory_mb: u64) -> AgentCheck {
    support::check_agent(dir, memory_mb, 30_000)
}

/// An agent directory holding `files` (name, content, executable).
fn agent(files: &[(&str, &str, bool)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, executable) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        if *executable {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir
}

#[test]
fn runnable_agents_pass_and_python_is_read_in_the_sandbox() {
    let cases = [
        (
            agent(&[(
                "agent.py",
                "def get_action(observation):\n    return 1\n",
                false,
            )]),
            "agent.py",
        ),
        (
            agent(&[(
                "main.py",
                "class Agent:\n    def get_action(self, obs):\n        return 0\n",
                false,
            )]),
            "main.py",
        ),
        (
            agent(&[("agent.py", "def act(observation):\n    return 2\n", false)]),
            "agent.py",
        ),
        (
            agent(&[
                ("agent.toml", "command = [\"./bot.sh\"]\n", false),
                ("bot.sh", "#!/bin/sh\nexit 0\n", true),
            ]),
            "agent.toml",
        ),
    ];
    for (dir, launch) in &cases {
        let report = check(dir.path(), 512);
        assert_eq!(report.launch.as_deref(), Some(*launch), "{report:?}");
        assert!(report.errors.is_empty(), "{report:?}");
        if *launch != "agent.toml" {
            // The agent's code was read by a sandboxed process with the agent's rlimits.
            assert!(
                report.isolation.applied.iter().any(|l| l == "rlimits"),
                "{report:?}"
            );
        }
    }
    let report = check(&example("pong-python"), 512);
    assert!(report.errors.is_empty(), "{report:?}");
}

#[test]
fn broken_agents_are_reported_with_a_reason() {
    let cases = [
        (agent(&[("README.md", "hello", false)]), "has no agent.toml"),
        (
            agent(&[("agent.py", "def get_action(observation:\n", false)]),
            "agent.py: syntax error at line 1",
        ),
        (
            agent(&[(
                "agent.py",
                "def decide(observation):\n    return 1\n",
                false,
            )]),
            "defines no entry point",
        ),
        (
            agent(&[("agent.toml", "command = []\n", false)]),
            "agent.toml: command is empty",
        ),
        (
            agent(&[("agent.toml", "command = [\"./missing\"]\n", false)]),
            "agent.toml: command missing is not an executable file in the agent directory",
        ),
        (
            agent(&[
                ("agent.toml", "command = [\"./bot.sh\"]\n", false),
                ("bot.sh", "#!/bin/sh\n", false),
            ]),
            "is not an executable file",
        ),
        (
            agent(&[(
                "agent.py",
                &format!("x = {}0{}\n", "(".repeat(100_000), ")".repeat(100_000)),
                false,
            )]),
            "agent.py:",
        ),
    ];
    for (dir, want) in &cases {
        let report = check(dir.path(), 512);
        assert_eq!(report.errors.len(), 1, "{report:?}");
        assert!(report.errors[0].contains(want), "{report:?} lacks {want:?}");
    }
}

#[test]
fn an_agent_that_cannot_be_checked_is_a_failure_not_a_report() {
    let dir = agent(&[("agent.py", "def act(o):\n    return 1\n", false)]);
    let output = std::process::Command::new(BIN)
        .args(["check-agent", "--dir"])
        .arg(dir.path())
        .args(["--python", "/nonexistent/python3"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(i32::from(Exit::Failed.code())),
        "{output:?}"
    );
    assert!(output.stdout.is_empty(), "no report: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("checking the agent"), "{stderr}");
}
