//! Replays written by real matches validate against the documented schema,
//! `proto/schema/replay-v1.schema.json` (checked with Python `jsonschema`).

mod support;

use std::process::Command;

use proto::pb;
use support::{Executor, agent, example_agent, workspace};

#[tokio::test]
async fn replays_of_real_matches_match_the_documented_schema() {
    let python = testkit::python_with(&["jsonschema"], &["jsonschema"]);
    let executor = Executor::start(&[]);
    let mut paths = Vec::new();
    for (env, a, b) in [
        ("pong", "pong-python", "random-python"),
        ("tictactoe", "tictactoe-python", "tictactoe-shell"),
        ("connectx", "connectx-shell", "connectx-python"),
    ] {
        let request = pb::MatchRequest {
            match_id: format!("schema-{env}"),
            environment: env.into(),
            agents: vec![agent("a", &example_agent(a)), agent("b", &example_agent(b))],
            timeout_sec: 120,
            record_replay: true,
            seed: 11,
            environment_config_json: if env == "pong" {
                r#"{"max_steps": 80}"#.into()
            } else {
                String::new()
            },
            limits: None,
        };
        let result = executor.run_match(request).await;
        assert_eq!(
            result.status(),
            pb::MatchStatus::StatusSuccess,
            "{env}: {result:?}"
        );
        paths.push(
            result
                .replay_url
                .strip_prefix("file://")
                .expect("file url")
                .to_string(),
        );
    }
    let output = Command::new(python)
        .arg(workspace().join("executor/tests/python/validate_replay.py"))
        .arg(workspace().join("proto/schema/replay-v1.schema.json"))
        .args(&paths)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": valid")).count(),
        3,
        "{stdout}"
    );

    // The schema is not vacuous: a replay with a wrong move status is refused.
    let mut replay: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&paths[0]).unwrap()).unwrap();
    replay["steps"][0]["statuses"][0] = "fine".into();
    let bad = executor.data_dir.path().join("bad-replay.json");
    std::fs::write(&bad, serde_json::to_vec(&replay).unwrap()).unwrap();
    let output = Command::new(testkit::python_with(&["jsonschema"], &["jsonschema"]))
        .arg(workspace().join("executor/tests/python/validate_replay.py"))
        .arg(workspace().join("proto/schema/replay-v1.schema.json"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("steps/0/statuses/0"));
}
