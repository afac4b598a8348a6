//! An upper estimate of the size of a match's replay, computed before the match is played, so that a request
//! whose replay could not be kept whole is refused up front with the limit named.
//!
//! The estimate encodes the replay's own schema types (`proto::replay`), which the orchestrator's recorder
//! writes byte for byte as `serde_json` encodes them: the document around the frames for an outcome of the
//! longest forms, and `max_steps` frames of twice the largest frame of a short sample played with default
//! actions (numbers of the longest forms, the longest move status).

use envs::Environment;
use proto::outcome::{MatchOutcome, MatchStatus};
use proto::replay::{Frame, Metadata, MoveStatus, Replay, SCHEMA_VERSION};
use proto::spec::Limits;
use serde_json::Value;

/// Steps of the sample whose largest frame, doubled, stands for every frame.
const SAMPLE_STEPS: u32 = 64;
/// What an agent's entry in the outcome takes besides its stderr tail (id, numbers, first error, isolation).
const AGENT_OUTCOME_BYTES: u64 = 4096;
/// A time as the recorder writes it (RFC 3339 with milliseconds, UTC).
const SAMPLE_TIME: &str = "2026-01-01T00:00:00.000Z";

/// The most bytes the replay of a match of `env` (freshly made; it is played here) between `agents` with
/// `limits` can take.
pub(crate) fn size_bound(
    mut env: Box<dyn Environment>,
    match_id: &str,
    seed: u64,
    agents: &[String],
    limits: &Limits,
) -> u64 {
    let info = env.info();
    let initial_render = env.render();
    let mut largest_frame = 0u64;
    for step in 1..=SAMPLE_STEPS {
        let movers = env.to_move();
        let actions: Vec<Option<Value>> = (0..info.players)
            .map(|p| movers.contains(&p).then(|| env.default_action(p)))
            .collect();
        let result = env.step(&actions);
        let frame = Frame {
            step: u32::MAX - step,
            actions: actions
                .into_iter()
                .map(|a| a.unwrap_or(Value::Null))
                .collect(),
            rewards: vec![-f64::MAX / 3.0; info.players],
            statuses: vec![MoveStatus::InvalidAction; info.players],
            time_ms: vec![-f64::MAX / 7.0; info.players],
            info: step_info(env.as_ref()),
            render: env.render(),
            state: env.state(),
            state_hash: "0".repeat(64),
        };
        // One more byte for the comma between frames.
        largest_frame = largest_frame.max(encoded_len(&frame) + 1);
        if result.done {
            break;
        }
    }
    let outcome = MatchOutcome {
        match_id: match_id.to_string(),
        status: MatchStatus::Success,
        winner: None,
        agents: Vec::new(),
        total_steps: u32::MAX,
        execution_time_sec: f64::MAX,
        seed,
        error_message: String::new(),
        replay_sha256: None,
    };
    let document = Replay {
        schema_version: SCHEMA_VERSION,
        engine_version: env!("CARGO_PKG_VERSION").to_string(),
        match_id: match_id.to_string(),
        environment: info.name.to_string(),
        config: env.config(),
        seed,
        agents: agents.to_vec(),
        metadata: Metadata::new(
            info.name,
            agents,
            Some(&outcome),
            Some(SAMPLE_TIME.to_string()),
        ),
        start_time: Some(SAMPLE_TIME.to_string()),
        end_time: Some(SAMPLE_TIME.to_string()),
        duration: Some(f64::MAX),
        num_frames: u32::MAX,
        initial_render,
        frames: Vec::new(),
        outcome: Some(outcome),
    };
    // A stderr character JSON escapes as `\u00XX` takes six bytes.
    let per_agent = AGENT_OUTCOME_BYTES + 6 * limits.stderr_bytes as u64;
    encoded_len(&document)
        + env.max_steps().saturating_mul(2 * largest_frame)
        + per_agent * agents.len() as u64
}

/// The step info the environment reports now, as a value.
fn step_info(env: &dyn Environment) -> Value {
    let mut bytes = Vec::new();
    env.write_step_info(&mut bytes)
        .ok()
        .and_then(|()| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

fn encoded_len(value: &impl serde::Serialize) -> u64 {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use orchestrator::PlayOptions;
    use orchestrator::report::Reporter;
    use proto::spec::{AgentSpec, MatchSpec};
    use serde_json::json;

    use super::*;

    /// For a match of every environment played to its episode limit (or to its end) by the orchestrator, the
    /// replay written is never larger than the bound, and the bound is not absurdly loose.
    #[test]
    fn replays_stay_within_their_size_bound() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents");
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
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        for (environment, config, agent) in cases {
            let config = config.as_object().cloned().expect("an object");
            let spec = MatchSpec {
                match_id: "test-match".into(),
                environment: environment.into(),
                config: config.clone(),
                seed: 42,
                agents: ["a", "b"]
                    .iter()
                    .map(|id| AgentSpec {
                        agent_id: id.to_string(),
                        dir: examples.join(agent),
                    })
                    .collect(),
                limits: Limits {
                    step_ms: 2_000,
                    ..Limits::default()
                },
                record_replay: true,
            };
            let played = runtime.block_on(orchestrator::play(
                &spec,
                &PlayOptions::default(),
                &Reporter::disabled(),
                std::future::pending::<()>(),
            ));
            let actual = played.replay.expect("a replay").len() as u64;
            let game = envs::make(environment, &config, 42).unwrap();
            let max_steps = game.max_steps();
            let bound = size_bound(
                game,
                "test-match",
                42,
                &["a".to_string(), "b".to_string()],
                &spec.limits,
            );
            assert!(
                actual <= bound,
                "{environment}: {actual} bytes over the bound of {bound}"
            );
            if u64::from(played.outcome.total_steps) == max_steps {
                // Played to the episode limit: besides room for two full stderr tails, the bound is of the
                // replay's order, not an arbitrary large number.
                let stderr_room =
                    2 * (AGENT_OUTCOME_BYTES + 6 * Limits::default().stderr_bytes as u64);
                assert!(
                    bound <= 8 * actual + stderr_room,
                    "{environment}: bound {bound} for {actual} bytes"
                );
            }
        }
    }
}
