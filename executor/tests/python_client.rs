//! A client generated from `executor.proto` in Python (grpcio-tools) plays pong between two Python agents of
//! the original format and gets a correct `MatchResponse`: the wire contract works for other languages.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Executor, example_agent, workspace};

#[test]
fn python_client_gets_a_correct_match_response() {
    let python = testkit::python_with(&["grpc", "grpc_tools"], &["grpcio", "grpcio-tools"]);
    let executor = Executor::start(&[]);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/run_match_client.py"))
        .arg(workspace().join("proto/proto"))
        .arg(out.path())
        .arg(&executor.addr)
        .arg(example_agent("pong-python"))
        .arg(format!("file://{}", example_agent("random-python")))
        .output()
        .expect("run the python client");
    assert!(
        output.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("client output is JSON");

    assert_eq!(doc["health"]["healthy"], true);
    assert_eq!(doc["health"]["version"], env!("CARGO_PKG_VERSION"));
    let m = &doc["match"];
    assert_eq!(m["match_id"], "python-client-1");
    assert_eq!(m["status"], "STATUS_SUCCESS");
    assert!(m["total_steps"].as_u64().unwrap() > 0);
    assert!(m["execution_time_sec"].as_f64().unwrap() > 0.0);
    assert!(
        m["seed"].as_str().unwrap().parse::<u64>().unwrap() > 0,
        "a seed was picked and reported"
    );
    let results = m["agent_results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["agent_id"], "left");
    assert_eq!(results[1]["agent_id"], "right");
    let (left, right) = (
        results[0]["score"].as_f64().unwrap(),
        results[1]["score"].as_f64().unwrap(),
    );
    let winner = m["winner_agent_id"].as_str().unwrap();
    match left.partial_cmp(&right) {
        Some(std::cmp::Ordering::Greater) => assert_eq!(winner, "left"),
        Some(std::cmp::Ordering::Less) => assert_eq!(winner, "right"),
        _ => assert_eq!(winner, ""),
    }
    for r in results {
        assert_eq!(r["status"], "AGENT_STATUS_OK");
        assert_eq!(r["errors"], 0);
    }
    let replay = m["replay_url"].as_str().unwrap();
    assert!(
        replay.starts_with("file://") && replay.ends_with("python-client-1.json"),
        "{replay}"
    );
    assert!(std::path::Path::new(replay.trim_start_matches("file://")).is_file());
    assert!(
        m["replay_html_url"]
            .as_str()
            .unwrap()
            .ends_with("python-client-1.html")
    );
}
