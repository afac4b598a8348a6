//! Agents that miss the deadline: the timeout is charged to them, the default action is used, and their late
//! answer is discarded instead of being taken for a later step.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::replay::MoveStatus;
use serde_json::json;
use support::{Arena, test_agent};

#[test]
fn late_answer_without_step_number_is_discarded() {
    // slow-sh answers step N with N mod 3 and answers step 3 only after step 4 arrived.
    let run = Arena::pong()
        .agent("slow", &test_agent("slow-sh"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.total_steps, 40);
    let slow = run.agent("slow");
    assert_eq!(slow.status, AgentStatus::Timeout);
    assert_eq!(slow.errors, 1);
    assert_eq!(slow.error_message, "step 3: timed out after 500 ms");
    assert_eq!(run.agent("steady").status, AgentStatus::Ok);

    let replay = run.replay();
    for step in &replay.frames {
        if step.step == 3 {
            assert_eq!(step.statuses[0], MoveStatus::Timeout);
            assert_eq!(step.actions[0], json!(1), "the default action is used");
        } else {
            assert_eq!(step.statuses[0], MoveStatus::Ok, "step {}", step.step);
            assert_eq!(
                step.actions[0],
                json!(step.step % 3),
                "step {} got a stale answer",
                step.step
            );
        }
    }
    run.assert_no_agent_process_left();
}

#[test]
fn python_agent_that_is_too_slow_is_charged_and_catches_up() {
    let run = Arena::pong()
        .limit("max_errors", json!(20))
        .agent("slow", &test_agent("slow-once"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.total_steps, 40);
    let slow = run.agent("slow");
    assert_eq!(slow.status, AgentStatus::Timeout);
    assert!(slow.errors >= 1, "{slow:?}");
    assert_eq!(slow.error_message, "step 3: timed out after 500 ms");

    let replay = run.replay();
    assert_eq!(replay.frames[2].statuses[0], MoveStatus::Timeout);
    assert_eq!(replay.frames[2].actions[0], json!(1));
    let last = replay.frames.last().expect("steps were played");
    assert_eq!(
        last.statuses[0],
        MoveStatus::Ok,
        "the agent answers in step again"
    );
    assert_eq!(last.actions[0], json!(2));
    run.assert_no_agent_process_left();
}
