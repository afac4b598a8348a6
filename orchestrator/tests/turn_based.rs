//! Turn-based games: only the player on move is asked; the other is idle that step (no message, no time,
//! `null` action in the replay).

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::replay::MoveStatus;
use serde_json::{Value, json};
use support::{Arena, test_agent};

#[test]
fn tictactoe_asks_only_the_player_on_move() {
    // Both play the first empty cell: X takes 0, 2, 4, 6 and wins on the diagonal at the seventh move.
    let run = Arena::game("tictactoe")
        .agent("x", &test_agent("first-empty"))
        .agent("o", &test_agent("first-empty"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    assert_eq!(run.outcome.total_steps, 7);
    assert_eq!(run.outcome.winner.as_deref(), Some("x"));
    assert!(
        run.outcome
            .agents
            .iter()
            .all(|a| a.status == AgentStatus::Ok && a.errors == 0)
    );

    let replay = run.replay();
    assert_eq!(replay.environment, "tictactoe");
    for step in &replay.frames {
        let (mover, idle) = if step.step % 2 == 1 { (0, 1) } else { (1, 0) };
        assert_eq!(step.statuses[mover], MoveStatus::Ok, "step {}", step.step);
        assert_eq!(step.statuses[idle], MoveStatus::Idle, "step {}", step.step);
        assert_eq!(
            step.actions[mover],
            json!(step.step - 1),
            "step {}",
            step.step
        );
        assert_eq!(step.actions[idle], Value::Null, "step {}", step.step);
        assert_eq!(step.time_ms[idle], 0.0, "step {}", step.step);
    }
    run.assert_no_agent_process_left();
}

#[test]
fn kaggle_style_agents_get_attribute_access_and_the_configuration() {
    // X plays the first empty cell, O (kaggle style) the last: X completes the top row at move five.
    let run = Arena::game("tictactoe")
        .agent("x", &test_agent("first-empty"))
        .agent("o", &test_agent("kaggle-style"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success, "{}", run.stderr());
    assert!(
        run.outcome
            .agents
            .iter()
            .all(|a| a.status == AgentStatus::Ok && a.errors == 0),
        "{:?}",
        run.outcome
    );
    assert_eq!(run.outcome.total_steps, 5);
    assert_eq!(run.outcome.winner.as_deref(), Some("x"));
    let o_moves: Vec<Value> = run
        .replay()
        .frames
        .iter()
        .filter_map(|s| Some(s.actions[1].clone()).filter(|a| !a.is_null()))
        .collect();
    assert_eq!(o_moves, [json!(8), json!(7)]);
    run.assert_no_agent_process_left();
}
