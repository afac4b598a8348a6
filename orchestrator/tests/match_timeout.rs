//! The match's wall-clock budget: past `match_ms` the match ends with status `timeout` and the result of the
//! steps that were played.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, test_agent};

#[test]
fn match_over_its_budget_ends_as_timeout_with_what_was_played() {
    // sleepy takes 100 ms per move (within step_ms), so 100000 steps cannot fit in 1.5 s.
    let run = Arena::pong()
        .config(json!({ "max_steps": 100000, "winning_score": 100000 }))
        .limit("match_ms", json!(1500))
        .agent("sleepy", &test_agent("sleepy"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Timeout);
    assert!(
        run.outcome
            .error_message
            .starts_with("match exceeded its time budget of 1500 ms after"),
        "{:?}",
        run.outcome.error_message
    );
    assert!(run.outcome.total_steps < 100000);
    assert!(
        run.outcome
            .agents
            .iter()
            .all(|a| a.status == AgentStatus::Ok && a.errors == 0)
    );
    let replay = run.replay();
    assert_eq!(replay.frames.len() as u32, run.outcome.total_steps);
    let outcome = replay.outcome.expect("the replay holds the outcome");
    assert_eq!(outcome.status, MatchStatus::Timeout);
    run.assert_no_agent_process_left();
}
