//! Replays written by real matches validate against the documented schema of the version they are written in,
//! `proto/schema/replay-v2.schema.json`, and the replays an earlier orchestrator wrote against
//! `proto/schema/replay-v1.schema.json` (checked with Python `jsonschema`).

mod support;

use std::ffi::OsStr;
use std::process::{Command, Output};

use proto::pb;
use support::{Executor, agent, example_agent, workspace};

/// Checks `replays` against `proto/schema/<schema>` with `executor/tests/python/validate_replay.py`: it prints
/// `<file>: valid` for each in turn, and stops with a failure at the first invalid one after printing
/// `<file>: <path>: <error>` lines.
fn validate(schema: &str, replays: &[impl AsRef<OsStr>]) -> Output {
    let python = testkit::python_with(&["jsonschema"], &["jsonschema"]);
    Command::new(python)
        .arg(workspace().join("executor/tests/python/validate_replay.py"))
        .arg(workspace().join("proto/schema").join(schema))
        .args(replays)
        .output()
        .unwrap()
}

#[tokio::test]
async fn replays_of_real_matches_match_the_documented_schema() {
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
    let output = validate("replay-v2.schema.json", &paths);
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

    // The schema is not vacuous: a replay with a wrong move status, or with its seed as a number (which
    // JavaScript cannot hold exactly), is refused.
    let replay: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&paths[0]).unwrap()).unwrap();
    for (change, path) in [
        (
            ("/frames/0/statuses/0", serde_json::json!("fine")),
            "frames/0/statuses/0",
        ),
        (("/seed", serde_json::json!(11)), "seed"),
        (("/frames/0/info", serde_json::json!({})), "frames/0/info"),
    ] {
        let mut bad = replay.clone();
        *bad.pointer_mut(change.0).expect("the changed field exists") = change.1;
        let file = executor.data_dir.path().join("bad-replay.json");
        std::fs::write(&file, serde_json::to_vec(&bad).unwrap()).unwrap();
        let output = validate("replay-v2.schema.json", &[&file]);
        assert!(!output.status.success(), "{path}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(&format!(": {path}: ")), "{path}: {stdout}");
    }
}

#[test]
fn version_1_replays_match_the_version_1_schema() {
    let fixtures = workspace().join("proto/tests/fixtures/replays");
    let replays: Vec<_> = ["pong", "rps", "connectx", "tictactoe"]
        .iter()
        .map(|env| fixtures.join(format!("v1-{env}.json")))
        .collect();
    let output = validate("replay-v1.schema.json", &replays);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": valid")).count(),
        4,
        "{stdout}"
    );
    // The versions differ: a version 1 replay is no version 2 replay.
    assert!(!validate("replay-v2.schema.json", &replays).status.success());
}
