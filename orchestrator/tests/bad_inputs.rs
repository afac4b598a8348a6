//! Matches that cannot be played still produce a result (status `error`, exit 0); a spec the orchestrator
//! cannot read is the orchestrator's own failure (exit 1, nothing written).

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, BIN, test_agent};

#[test]
fn unplayable_matches_end_with_an_error_outcome() {
    let cases = [
        (
            json!({"environment": "pong", "config": {"bogus": 1}}),
            "unknown key \"bogus\"",
        ),
        (
            json!({"environment": "pong", "config": {"max_steps": "many"}}),
            "max_steps",
        ),
        (
            json!({"environment": "chess"}),
            "unknown environment \"chess\"",
        ),
        (
            json!({"environment": "pong", "three_agents": true}),
            "pong is played by 2 agents, the spec has 3",
        ),
    ];
    for (case, expected) in cases {
        let mut arena = Arena::game(case["environment"].as_str().unwrap())
            .agent("a", &test_agent("steady"))
            .agent("b", &test_agent("steady"));
        if case["three_agents"] == json!(true) {
            arena = arena.agent("c", &test_agent("steady"));
        }
        if let Some(config) = case.get("config") {
            arena = arena.config(config.clone());
        }
        let run = arena.run(&[]);
        assert_eq!(run.outcome.status, MatchStatus::Error, "{case}");
        assert!(
            run.outcome.error_message.contains(expected),
            "{case}: {:?}",
            run.outcome.error_message
        );
        assert_eq!(run.outcome.winner, None);
        assert_eq!(run.outcome.total_steps, 0);
        assert!(
            run.outcome
                .agents
                .iter()
                .all(|a| a.status == AgentStatus::NotStarted && a.errors == 0),
            "{case}: agents that never ran say so: {:?}",
            run.outcome.agents
        );
        assert!(
            run.replay_bytes.is_none(),
            "{case}: no replay without an environment"
        );
        assert!(
            run.agent_dirs.iter().all(|d| !d.join("pids").exists()),
            "{case}: no agent was started"
        );
    }
}

#[test]
fn unreadable_specs_fail_the_orchestrator() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.json", None, "reading"),
        ("broken.json", Some("{ not json"), "parsing"),
        (
            "no-agents.json",
            Some(r#"{"match_id":"m-1","environment":"pong","seed":1,"agents":[]}"#),
            "at least one agent",
        ),
    ];
    for (name, content, expected) in cases {
        let spec = dir.path().join(name);
        if let Some(content) = content {
            std::fs::write(&spec, content).unwrap();
        }
        let result = dir.path().join(format!("{name}.result"));
        let output = std::process::Command::new(BIN)
            .args(["run", "--spec"])
            .arg(&spec)
            .arg("--result-file")
            .arg(&result)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!result.exists(), "{name}: no result without a match");
    }
}

#[test]
fn unwritable_result_file_fails_the_orchestrator() {
    let arena = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let spec = arena.write_spec();
    let output = std::process::Command::new(BIN)
        .args(["run", "--spec"])
        .arg(&spec)
        .arg("--result-file")
        .arg(arena.dir.path().join("no-such-dir/result.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("writing result to"), "{stderr}");
}

#[test]
fn flags_can_come_from_the_environment() {
    let arena = Arena::pong()
        .agent("a", &test_agent("steady"))
        .agent("b", &test_agent("steady"));
    let spec = arena.write_spec();
    let output = std::process::Command::new(BIN)
        .arg("run")
        .env("ORCHESTRATOR_SPEC", &spec)
        .env("ORCHESTRATOR_RESULT_FILE", arena.result_path())
        .env("ORCHESTRATOR_REPLAY_OUT", arena.replay_path())
        .env("ORCHESTRATOR_LOG_FORMAT", "json")
        .output()
        .unwrap();
    let run = arena.collect(output);
    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert!(run.replay_bytes.is_some());
    let summary = run
        .stderr()
        .lines()
        .find(|l| l.contains("match finished"))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json log lines"))
        .expect("a summary line");
    assert_eq!(summary["match_id"], "test-match");
    assert_eq!(summary["status"], "Success");
}
