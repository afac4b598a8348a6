//! Every starter kit in `examples/agents/` plays real matches of its environment through the orchestrator
//! binary, in both seats, and is never charged an error: its moves are legal and in time. The kits also play
//! sensibly: the tic-tac-toe minimax kit never loses and board games end by the rules, not by the step limit.
//! Every replay frame's info carries the scores so far, the last frame's those of the result.

#[path = "fixtures/matches.rs"]
mod matches;
mod support;

use matches::{play, quick_config};
use proto::outcome::{AgentStatus, MatchStatus};
use support::example;

/// The kits of each environment: a Python module agent and a protocol agent.
const KITS: [(&str, &str, &str); 4] = [
    ("pong", "pong-python", "pong-shell"),
    ("rps", "rps-python", "rps-shell"),
    ("connectx", "connectx-python", "connectx-shell"),
    ("tictactoe", "tictactoe-python", "tictactoe-shell"),
];

#[test]
fn every_kit_plays_both_seats_without_errors() {
    for (env, python, shell) in KITS {
        for (first, second) in [(python, shell), (shell, python)] {
            let m = play(
                env,
                quick_config(env),
                5,
                &[(first, example(first)), (second, example(second))],
            );
            let o = &m.outcome;
            let context = format!("{env}: {first} vs {second}: {o:?}\n{}", m.stderr);
            assert_eq!(o.status, MatchStatus::Success, "{context}");
            assert!(o.total_steps > 0, "{context}");
            for agent in &o.agents {
                assert_eq!(agent.errors, 0, "{context}");
                assert_eq!(agent.status, AgentStatus::Ok, "{context}");
                assert_eq!(agent.error_message, "", "{context}");
            }
            let replay: proto::replay::Replay =
                serde_json::from_slice(&m.replay_bytes).expect("the replay is a replay");
            for step in &replay.frames {
                assert!(
                    step.statuses.iter().all(|s| matches!(
                        s,
                        proto::replay::MoveStatus::Ok | proto::replay::MoveStatus::Idle
                    )),
                    "{context}: step {} has statuses {:?}",
                    step.step,
                    step.statuses
                );
            }

            // Each frame's info has the scores so far: the last frame's are the result's. The board games
            // also say who moves next, nobody once the game is over.
            let last = replay.frames.last().expect("at least one step");
            let scores: Vec<f64> = o.agents.iter().map(|a| a.score).collect();
            let info_scores: Vec<f64> = last.info["scores"]
                .as_array()
                .expect("info has scores")
                .iter()
                .map(|s| s.as_f64().expect("a score"))
                .collect();
            assert_eq!(info_scores, scores, "{context}");
            if env == "connectx" || env == "tictactoe" {
                assert_eq!(last.info["to_move"], serde_json::json!([]), "{context}");
                assert_eq!(
                    replay.frames[0].info["to_move"],
                    serde_json::json!([1]),
                    "{context}"
                );
            }

            if env == "tictactoe" {
                // Perfect play: the minimax kit wins or draws, whichever seat it has.
                assert_ne!(o.winner.as_deref(), Some(shell), "{context}");
            }
            if env == "connectx" || env == "tictactoe" {
                let last = replay.frames.last().expect("at least one step");
                let board_full = last.render["board"]
                    .as_array()
                    .is_some_and(|cells| cells.iter().all(|c| c != 0));
                assert!(
                    o.winner.is_some() || board_full,
                    "{context}: no winner on an open board"
                );
            }
        }
    }
}

/// The protocol kit reads the board size and line length from `init`, so it plays any configuration.
#[test]
fn connectx_shell_kit_follows_the_configuration() {
    let config = serde_json::json!({"rows": 4, "columns": 5, "inarow": 3});
    let m = play(
        "connectx",
        config,
        1,
        &[
            ("shell-a", example("connectx-shell")),
            ("shell-b", example("connectx-shell")),
        ],
    );
    let o = &m.outcome;
    assert_eq!(o.status, MatchStatus::Success, "{o:?}");
    assert!(
        o.agents.iter().all(|a| a.errors == 0),
        "{o:?}\n{}",
        m.stderr
    );
    let replay: proto::replay::Replay =
        serde_json::from_slice(&m.replay_bytes).expect("the replay is a replay");
    assert_eq!(
        replay.initial_render["board"].as_array().map(Vec::len),
        Some(20)
    );
    assert!(
        o.agents[0].stderr_tail.contains("4x5 board, 3 in a row"),
        "{:?}",
        o.agents[0].stderr_tail
    );
}
