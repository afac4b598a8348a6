//! The match's wall-clock budget: past `match_ms` the match ends with status `timeout` and the result of the
//! steps that were played; the agent that thought for more than its share of the budget ran out the clock: it
//! is charged and loses.

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
            .error_message
            .contains("sleepy ran out the clock"),
        "{:?}",
        run.outcome.error_message
    );
    let sleepy = run.agent("sleepy");
    assert_eq!(sleepy.status, AgentStatus::Timeout, "{sleepy:?}");
    assert_eq!(sleepy.errors, 1, "{sleepy:?}");
    assert!(
        sleepy
            .error_message
            .contains("ran out the match clock: thought for"),
        "{sleepy:?}"
    );
    let steady = run.agent("steady");
    assert_eq!(steady.status, AgentStatus::Ok, "{steady:?}");
    assert_eq!(steady.errors, 0, "{steady:?}");
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    let replay = run.replay();
    assert_eq!(replay.frames.len() as u32, run.outcome.total_steps);
    let outcome = replay.outcome.expect("the replay holds the outcome");
    assert_eq!(outcome.status, MatchStatus::Timeout);
    run.assert_no_agent_process_left();
}
