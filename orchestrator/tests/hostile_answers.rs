//! Loose answers: lines that look like an action but are not exactly one (an action with an error, a number
//! that does not read as written, extra or repeated fields, another step's label) are invalid actions: the
//! agent is charged and the default action is played. `2.0` is exactly the action 2.

mod support;

use proto::outcome::AgentStatus;
use proto::replay::MoveStatus;
use serde_json::json;
use support::{Arena, Mode, hostile, test_agent};

in_both_modes!(loose_answers_are_invalid_actions, loose);

const LOOSE: &[&str] = &[
    r#"{"action": 2, "error": "not really"}"#,
    r#"{"action": 1e-400}"#,
    r#"{"action": 2.00000000000000001}"#,
    r#"{"action": 2, "comment": "hi"}"#,
    r#"{"action": 2, "action": 0}"#,
    r#"{"action": 2, "step": 99}"#,
];

fn loose(mode: Mode) {
    let arena = Arena::pong()
        .mode(mode)
        .limit("max_errors", json!(LOOSE.len()))
        .agent("loose", &hostile("loose"))
        .agent("steady", &test_agent("steady"));
    let mut lines: Vec<&str> = LOOSE.to_vec();
    lines.push(r#"{"action": 2.0, "step": 7}"#);
    std::fs::write(
        arena.agent_dir("loose").join("answers.txt"),
        lines.join("\n"),
    )
    .unwrap();
    let run = arena.run(&[]);

    let loose = run.agent("loose");
    assert_eq!(loose.status, AgentStatus::InvalidAction, "{loose:?}");
    assert_eq!(loose.errors as usize, LOOSE.len(), "{loose:?}");
    let replay = run.replay();
    for (i, step) in replay.frames.iter().take(LOOSE.len()).enumerate() {
        assert_eq!(
            step.statuses[0],
            MoveStatus::InvalidAction,
            "step {}: {}",
            i + 1,
            LOOSE[i]
        );
        assert_eq!(
            step.actions[0],
            json!(1),
            "the default action is played for {}",
            LOOSE[i]
        );
    }
    let exact = &replay.frames[LOOSE.len()];
    assert_eq!(exact.statuses[0], MoveStatus::Ok);
    assert_eq!(exact.actions[0], json!(2), "2.0 is the action 2");
    run.assert_unaffected("steady");
    run.assert_no_agent_process_left();
}
