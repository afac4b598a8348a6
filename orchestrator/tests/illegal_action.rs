//! Agents that answer with something that is not a legal action, or whose policy raises: invalid actions,
//! explained with the environment's reason, and disqualification past `max_errors`.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, test_agent};

#[test]
fn illegal_actions_are_explained_and_disqualify() {
    let run = Arena::pong()
        .agent("steady", &test_agent("steady"))
        .agent("illegal", &test_agent("illegal"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    assert_eq!(run.outcome.total_steps, 4);
    let illegal = run.agent("illegal");
    assert_eq!(illegal.status, AgentStatus::Disqualified);
    assert_eq!(illegal.errors, 4);
    assert_eq!(
        illegal.error_message,
        "step 1: invalid action: pong action must be one of 0 (up), 1 (stay), 2 (down), got 7"
    );
    let replay = run.replay();
    assert!(
        replay.frames.iter().all(|s| s.actions[1] == json!(1)),
        "default actions replace illegal ones"
    );
    run.assert_no_agent_process_left();
}

#[test]
fn exceptions_in_the_policy_are_invalid_actions() {
    let run = Arena::pong()
        .limit("max_errors", json!(1))
        .agent("raises", &test_agent("raises"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    assert_eq!(run.outcome.total_steps, 2);
    let raises = run.agent("raises");
    assert_eq!(raises.status, AgentStatus::Disqualified);
    assert_eq!(raises.errors, 2);
    assert_eq!(
        raises.error_message,
        "step 1: agent reported an error instead of an action: ValueError: no idea what to do with 8 numbers"
    );
    assert!(raises.stderr_tail.contains("Traceback"), "{raises:?}");
    run.assert_no_agent_process_left();
}
