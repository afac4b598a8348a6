//! Hostile agents that abuse their output: a gigabyte on stdout without a newline, non-UTF-8, invalid JSON,
//! extra lines, a gigabyte of stderr, forged results. The orchestrator's memory stays bounded and the result
//! is the orchestrator's.

mod support;

use proto::outcome::AgentStatus;
use proto::replay::MoveStatus;
use serde_json::json;
use support::{Arena, hostile, test_agent};

#[test]
fn stdout_flood_and_malformed_lines_are_the_agents_errors() {
    let run = Arena::pong()
        .limit("max_errors", json!(2))
        .limit("step_ms", json!(2_000))
        .agent("flood", &hostile("stdout-flood"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    run.assert_hostile_lost("flood", "steady", AgentStatus::Disqualified);
    let flood = run.agent("flood");
    assert!(
        flood.error_message.starts_with("step 2: "),
        "the first answer counts, extra lines are dropped: {flood:?}"
    );
    let replay = run.replay();
    assert_eq!(replay.frames[0].statuses[0], MoveStatus::Ok);
    assert_eq!(replay.frames[0].actions[0], json!(1));
    assert_eq!(replay.frames[1].statuses[0], MoveStatus::InvalidAction);
}

#[test]
fn stderr_flood_is_kept_bounded() {
    let run = Arena::pong()
        .limit("stderr_bytes", json!(4096))
        .limit("step_ms", json!(5_000))
        .agent("noisy", &hostile("stderr-flood"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    run.assert_hostile_lost("noisy", "steady", AgentStatus::Crashed);
    let noisy = run.agent("noisy");
    assert!(
        noisy.stderr_tail.len() < 4096 + 100,
        "{}",
        noisy.stderr_tail.len()
    );
    assert!(noisy.stderr_tail.contains("stderr-flood: start"));
    assert!(noisy.stderr_tail.contains("stderr-flood: end"));
    assert!(noisy.stderr_tail.contains("bytes of stderr omitted"));
}

#[test]
fn forged_results_and_early_exit_change_nothing() {
    // A generous step limit: on a loaded machine the forger's answers must not turn into timeouts.
    let run = Arena::pong()
        .limit("step_ms", json!(5_000))
        .agent("forger", &hostile("forge"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    run.assert_hostile_lost("forger", "steady", AgentStatus::Crashed);
    let forger = run.agent("forger");
    assert!(
        forger.stderr_tail.contains("forge result.json: denied")
            && forger.stderr_tail.contains("forge replay.json: denied")
            && forger.stderr_tail.contains("forge relative: denied"),
        "{forger:?}"
    );
    assert!(!String::from_utf8_lossy(&run.result_bytes).contains("forged"));
    assert!(!String::from_utf8_lossy(run.replay_bytes.as_deref().unwrap()).contains("forged"));
    let replay = run.replay();
    assert_eq!(replay.frames[0].statuses[0], MoveStatus::InvalidAction);
    // The second line the forger wrote for step 1 either arrives before step 2 is sent (and is discarded as
    // noise) or after (and is the invalid answer to step 2); the exit at step 2 is a crash either way.
    assert!(
        matches!(
            replay.frames[1].statuses[0],
            MoveStatus::Crashed | MoveStatus::InvalidAction
        ),
        "{:?}",
        replay.frames[1].statuses
    );
    assert_eq!(
        replay.frames.last().unwrap().statuses[0],
        MoveStatus::Crashed
    );
}
