//! The replay size bound the executor refuses oversized requests with: for a match of every environment played
//! to its episode limit (or to its end), the replay written is never larger than the bound, and the bound is
//! not absurdly loose.

mod support;

use proto::spec::Limits;
use serde_json::json;
use support::{Arena, example};

#[test]
fn replays_stay_within_their_size_bound() {
    let cases = [
        (
            "pong",
            json!({ "max_steps": 300, "winning_score": 1000 }),
            "pong-shell",
        ),
        ("rps", json!({ "episodeSteps": 400 }), "rps-shell"),
        ("connectx", json!({ "episodeSteps": 60 }), "connectx-shell"),
        ("tictactoe", json!({}), "tictactoe-shell"),
    ];
    for (environment, config, agent) in cases {
        let run = Arena::game(environment)
            .config(config.clone())
            .agent("a", &example(agent))
            .agent("b", &example(agent))
            .run(&[]);
        let replay = run.replay_bytes.as_ref().expect("a replay");
        let game =
            orchestrator::envs::make(environment, config.as_object().expect("an object"), 42)
                .unwrap();
        let max_steps = game.max_steps();
        let bound = orchestrator::replay::size_bound(
            game,
            "test-match",
            42,
            &["a".to_string(), "b".to_string()],
            &Limits::default(),
        );
        let actual = replay.len() as u64;
        assert!(
            actual <= bound,
            "{environment}: {actual} bytes over the bound of {bound}"
        );
        if u64::from(run.outcome.total_steps) == max_steps {
            // Played to the episode limit: besides room for two full stderr tails, the bound is of the
            // replay's order, not an arbitrary large number.
            let stderr_room = 2 * (4096 + 6 * Limits::default().stderr_bytes as u64);
            assert!(
                bound <= 8 * actual + stderr_room,
                "{environment}: bound {bound} for {actual} bytes"
            );
        }
    }
}
