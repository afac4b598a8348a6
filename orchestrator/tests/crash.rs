//! An agent that dies mid-match: charged once as crashed, default actions for the rest of the match, loses,
//! and its helper processes are killed with it.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::replay::MoveStatus;
use serde_json::json;
use support::{Arena, test_agent};

#[test]
fn crashed_agent_loses_and_leaves_nothing_behind() {
    let run = Arena::pong()
        .agent("crash", &test_agent("crash"))
        .agent("steady", &test_agent("steady"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(
        run.outcome.total_steps, 40,
        "the match goes on with default actions"
    );
    assert_eq!(run.outcome.winner.as_deref(), Some("steady"));
    let crash = run.agent("crash");
    assert_eq!(crash.status, AgentStatus::Crashed);
    assert_eq!(crash.errors, 1, "a crash is counted once");
    assert_eq!(crash.error_message, "step 5: agent exited with status 3");
    assert!(
        crash.stderr_tail.contains("crash agent: giving up now"),
        "{crash:?}"
    );
    assert_eq!(run.agent("steady").status, AgentStatus::Ok);

    let replay = run.replay();
    for step in &replay.frames {
        let expected = if step.step < 5 {
            MoveStatus::Ok
        } else {
            MoveStatus::Crashed
        };
        assert_eq!(step.statuses[0], expected, "step {}", step.step);
        if step.step >= 5 {
            assert_eq!(step.actions[0], json!(1), "default action after the crash");
        }
    }
    run.assert_no_agent_process_left();
}
