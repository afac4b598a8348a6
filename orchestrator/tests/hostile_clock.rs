//! Running out the clock: an agent that answers just before every deadline makes a long match hit its time
//! budget. The budget is attributed: that agent thought for more than its share, it is charged a timeout and
//! loses, and the result says who ran out the clock.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use serde_json::json;
use support::{Arena, Mode, hostile, test_agent};

in_both_modes!(the_agent_that_runs_out_the_clock_loses, run_out_the_clock);

fn run_out_the_clock(mode: Mode) {
    let run = Arena::pong()
        .mode(mode)
        .config(json!({"max_steps": 1000, "winning_score": 1000}))
        // Generous per-move limits, so that a loaded machine does not turn the honest agent's moves into
        // timeouts; the staller uses most of each of its own.
        .limit("step_ms", json!(1_000))
        .limit("match_ms", json!(4_000))
        .limit("max_errors", json!(1000))
        .agent("staller", &hostile("attacker"))
        .agent("steady", &test_agent("steady"))
        .plan("staller", json!({"sleep_ms": 900}))
        .run(&[]);

    assert_eq!(
        run.outcome.status,
        MatchStatus::Timeout,
        "{:?}",
        run.outcome
    );
    assert!(run.outcome.total_steps < 1000);
    assert!(
        run.outcome
            .error_message
            .contains("staller ran out the clock"),
        "{}",
        run.outcome.error_message
    );
    let staller = run.agent("staller");
    assert_eq!(staller.status, AgentStatus::Timeout, "{staller:?}");
    assert!(
        staller.error_message.contains("ran out the match clock"),
        "{staller:?}"
    );
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    run.assert_unaffected("steady");
    run.assert_no_agent_process_left();
}
