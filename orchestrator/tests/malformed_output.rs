//! Agents whose lines are not answers (not JSON, or longer than the line limit): each is an invalid action,
//! and past `max_errors` the agent is disqualified and the match ends with the opponent as winner.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::replay::MoveStatus;
use serde_json::json;
use support::{Arena, test_agent};

#[test]
fn garbage_lines_get_the_agent_disqualified() {
    let run = Arena::pong()
        .agent("garbage", &test_agent("garbage"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    assert_eq!(
        run.outcome.total_steps, 4,
        "max_errors is 3: the fourth error ends the match"
    );
    let garbage = run.agent("garbage");
    assert_eq!(garbage.status, AgentStatus::Disqualified);
    assert_eq!(garbage.errors, 4);
    assert_eq!(
        garbage.error_message,
        "step 1: answer is not JSON: \"UP UP DOWN, definitely not json\""
    );
    let replay = run.replay();
    assert!(
        replay
            .frames
            .iter()
            .all(|s| s.statuses[0] == MoveStatus::InvalidAction)
    );
    assert!(replay.frames.iter().all(|s| s.actions[0] == json!(1)));
    run.assert_no_agent_process_left();
}

#[test]
fn lines_over_the_limit_are_invalid() {
    let run = Arena::pong()
        .limit("max_line_bytes", json!(1024))
        .agent("steady", &test_agent("steady"))
        .agent("long", &test_agent("long-line"))
        .run(&[]);

    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    let long = run.agent("long");
    assert_eq!(long.status, AgentStatus::Disqualified);
    assert_eq!(long.errors, 4);
    assert_eq!(long.error_message, "step 1: answer longer than 1024 bytes");
    run.assert_no_agent_process_left();
}
