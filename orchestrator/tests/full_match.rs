//! A whole pong match between two example agents (a Python module agent and a shell protocol agent): the
//! result file, the replay (re-simulated step by step, hash chain included) and their digests agree.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::replay::MoveStatus;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{Arena, example};

#[test]
fn example_agents_play_a_full_match_with_a_verifiable_replay() {
    let arena = Arena::pong()
        .config(json!({ "max_steps": 150, "winning_score": 1000, "ball_speed": 0.04 }))
        .agent("pong-python", &example("pong-python"))
        .agent("pong-shell", &example("pong-shell"));
    let run = arena.run(&[]);
    let outcome = &run.outcome;

    assert_eq!(outcome.status, MatchStatus::Success, "{}", run.stderr());
    assert_eq!(outcome.total_steps, 150);
    assert_eq!(outcome.seed, 42);
    for agent in &outcome.agents {
        assert_eq!(agent.status, AgentStatus::Ok, "{agent:?}");
        assert_eq!(agent.errors, 0, "{agent:?}");
        assert!(agent.time_used_sec > 0.0, "{agent:?}");
    }
    assert!(
        run.agent("pong-shell")
            .stderr_tail
            .contains("pong-shell: I am player 1")
    );

    // The digest covers the replay file byte for byte; the embedded outcome is the result without it.
    let replay_bytes = run.replay_bytes.as_deref().expect("replay written");
    assert_eq!(
        outcome.replay_sha256.as_deref(),
        Some(hex::encode(Sha256::digest(replay_bytes)).as_str())
    );
    let replay = run.replay();
    let mut embedded = replay
        .outcome
        .clone()
        .expect("the replay holds the outcome");
    assert_eq!(embedded.replay_sha256, None);
    embedded.replay_sha256 = outcome.replay_sha256.clone();
    assert_eq!(&embedded, outcome);

    assert_eq!(replay.schema_version, proto::replay::SCHEMA_VERSION);
    assert_eq!(replay.environment, "pong");
    assert_eq!(replay.seed, 42);
    assert_eq!(replay.agents, ["pong-python", "pong-shell"]);
    assert_eq!(replay.frames.len(), 150);

    // Scores are the points won, and points are the positive rewards of the replay.
    for (player, agent) in outcome.agents.iter().enumerate() {
        let points = replay
            .frames
            .iter()
            .filter(|s| s.rewards[player] > 0.0)
            .count() as f64;
        assert_eq!(agent.score, points, "player {player}");
    }
    let scores: Vec<f64> = outcome.agents.iter().map(|a| a.score).collect();
    let expected_winner = match scores[0].total_cmp(&scores[1]) {
        std::cmp::Ordering::Greater => Some("pong-python".to_string()),
        std::cmp::Ordering::Less => Some("pong-shell".to_string()),
        std::cmp::Ordering::Equal => None,
    };
    assert_eq!(outcome.winner, expected_winner);

    // Re-simulating the recorded actions reproduces every render, reward and chained state hash.
    let mut env = envs::make("pong", &replay.config, replay.seed).expect("replay config is valid");
    assert_eq!(env.render(), replay.initial_render);
    let mut chain = [0u8; 32];
    for (i, step) in replay.frames.iter().enumerate() {
        assert_eq!(step.step as usize, i + 1);
        assert_eq!(step.statuses, [MoveStatus::Ok, MoveStatus::Ok]);
        let actions: Vec<Option<serde_json::Value>> =
            step.actions.iter().cloned().map(Some).collect();
        let result = env.step(&actions);
        assert_eq!(result.rewards, step.rewards, "step {}", step.step);
        assert_eq!(env.render(), step.render, "step {}", step.step);
        chain = orchestrator::replay::chain_hash(&chain, &env.state()).unwrap();
        assert_eq!(hex::encode(chain), step.state_hash, "step {}", step.step);
    }

    run.assert_no_agent_process_left();
}
