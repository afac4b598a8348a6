//! `orchestrator verify REPLAY` on a replay the orchestrator recorded: it passes as written and fails, naming
//! the step, after a one-byte change.

mod support;

use std::process::Command;

use support::{Arena, example};

#[test]
fn verify_accepts_a_recorded_replay_and_rejects_a_tampered_one() {
    let m = Arena::pong()
        .agent("left", &example("pong-python"))
        .agent("right", &example("random-python"))
        .config(serde_json::json!({"max_steps": 60, "winning_score": 50}));
    let run = m.run(&[]);
    assert_eq!(run.outcome.total_steps, 60);
    let replay_path = m.replay_path();

    let ok = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["verify"])
        .arg(&replay_path)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(!ok.stdout.is_empty(), "verify prints a summary");

    // Change one action of step 30 from whatever it was to another legal one.
    let mut replay: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&replay_path).unwrap()).unwrap();
    let action = &mut replay["frames"][29]["actions"][0];
    *action = serde_json::json!((action.as_u64().unwrap() + 1) % 3);
    let tampered = replay_path.with_file_name("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&replay).unwrap()).unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["verify"])
        .arg(&tampered)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("step 30"), "{stderr}");
}
