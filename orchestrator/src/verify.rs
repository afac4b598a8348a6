//! Re-simulating a replay to verify it: the environment is rebuilt from the replay's name, config and seed,
//! every recorded action is applied again, and each frame's rewards, render state, info, state and chained
//! state hash must come out exactly as recorded, as must the frame count and the final scores and step count of
//! the outcome. Replays of schema version 1, which have no info or state, are checked on the rest.
//!
//! The hash chain is the recorder's own (`replay::chain_state`, starting from 32 zero bytes as the
//! module docs of [`crate::replay`] define), so a replay verifies only if every state along the way matches.

use std::fmt;
use std::io::Read;
use std::path::Path;

use envs::{EnvError, Environment};
use proto::replay::{Frame, MoveStatus, Replay};
use serde_json::Value;

use crate::replay::chain_state;

/// Largest replay file [`read_replay`] accepts (after decompression), so a hostile file cannot exhaust memory.
pub(crate) const MAX_REPLAY_BYTES: u64 = 1 << 30;

/// Longest rendering of a JSON value kept in an error message.
const SHOWN_CHARS: usize = 80;

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub match_id: String,
    pub environment: String,
    /// Steps re-simulated.
    pub steps: u32,
    /// The last state hash of the chain (hex); the hash of the empty chain when the replay has no step.
    pub final_state_hash: String,
    /// The environment's scores after the last step, in seat order.
    pub scores: Vec<f64>,
    /// Whether the replay holds an outcome that was checked against the re-simulation.
    pub outcome_checked: bool,
    /// The orchestrator version that recorded the replay (environments are versioned with it).
    pub engine_version: String,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scores: Vec<String> = self.scores.iter().map(f64::to_string).collect();
        write!(
            f,
            "replay of match {} verified: {} steps of {} re-simulated, scores {}, final state hash {}{}",
            self.match_id,
            self.steps,
            self.environment,
            scores.join(" : "),
            self.final_state_hash,
            if self.outcome_checked {
                ""
            } else {
                " (the replay has no outcome to check)"
            }
        )
    }
}

/// Why a replay does not verify, or could not be read. Step errors name the step and what diverged.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("reading replay {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("replay {path} is larger than {MAX_REPLAY_BYTES} bytes; it cannot be verified")]
    TooLarge { path: String },
    #[error("replay {path} is not a replay document: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "replay schema version {found} is not supported; this orchestrator reads versions 1 and 2"
    )]
    Schema { found: u64 },
    #[error("replay environment: {0}")]
    Environment(#[from] EnvError),
    #[error("replay lists {agents} agents but {env} is played by {players}")]
    Players {
        env: String,
        players: usize,
        agents: usize,
    },
    #[error("initial render differs{0}")]
    InitialRender(String),
    #[error("num_frames is {recorded}, the replay has {frames} frames")]
    FrameCount { recorded: u32, frames: usize },
    #[error("step {step}: {what}")]
    Step { step: u32, what: String },
    #[error("outcome: {0}")]
    Outcome(String),
}

/// Re-simulates `replay` and checks everything it records; see the module docs.
pub fn verify(replay: &Replay) -> Result<VerifyReport, VerifyError> {
    if !(1..=2).contains(&replay.schema_version) {
        return Err(VerifyError::Schema {
            found: replay.schema_version.into(),
        });
    }
    if replay.num_frames as usize != replay.frames.len() {
        return Err(VerifyError::FrameCount {
            recorded: replay.num_frames,
            frames: replay.frames.len(),
        });
    }
    // Version 1 recorded neither info nor state.
    let has_state = replay.schema_version >= 2;
    let mut env = envs::make(&replay.environment, &replay.config, replay.seed)?;
    let players = env.info().players;
    if replay.agents.len() != players {
        return Err(VerifyError::Players {
            env: replay.environment.clone(),
            players,
            agents: replay.agents.len(),
        });
    }
    if let Some(diff) = difference(&replay.initial_render, &env.render()) {
        return Err(VerifyError::InitialRender(diff));
    }

    let mut chain = [0u8; 32];
    let mut state = Vec::new();
    let mut info = Vec::new();
    let mut done = false;
    for (index, recorded) in replay.frames.iter().enumerate() {
        let step = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let fail = |what: String| VerifyError::Step { step, what };
        if recorded.step != step {
            return Err(fail(format!(
                "steps are out of order: entry {index} is numbered {}",
                recorded.step
            )));
        }
        if done {
            return Err(fail("recorded after the game had ended".into()));
        }
        for (field, len) in [
            ("actions", recorded.actions.len()),
            ("rewards", recorded.rewards.len()),
            ("statuses", recorded.statuses.len()),
        ] {
            if len != players {
                return Err(fail(format!(
                    "{field} has {len} entries, the game has {players} players"
                )));
            }
        }

        let movers = env.to_move();
        let mut actions: Vec<Option<Value>> = vec![None; players];
        for (player, (action, status)) in
            recorded.actions.iter().zip(&recorded.statuses).enumerate()
        {
            let on_move = movers.contains(&player);
            match (on_move, *status == MoveStatus::Idle) {
                (true, true) => {
                    return Err(fail(format!(
                        "player {player} was on move but is recorded as idle"
                    )));
                }
                (false, false) => {
                    return Err(fail(format!(
                        "player {player} was not on move but is recorded as {}",
                        status_name(*status)
                    )));
                }
                (false, true) if !action.is_null() => {
                    return Err(fail(format!(
                        "player {player} was idle but has action {}",
                        shown(action)
                    )));
                }
                (false, true) => {}
                (true, false) => match env.parse_action(player, action) {
                    Ok(legal) if &legal == action => actions[player] = Some(legal),
                    Ok(legal) => {
                        return Err(fail(format!(
                            "player {player}'s action {} is not in normal form {}",
                            shown(action),
                            shown(&legal)
                        )));
                    }
                    Err(why) => {
                        return Err(fail(format!("player {player}'s action is illegal: {why}")));
                    }
                },
            }
        }

        let result = env.step(&actions);
        done = result.done;
        if result.rewards != recorded.rewards {
            return Err(fail(format!(
                "rewards differ: recorded {:?}, re-simulated {:?}",
                recorded.rewards, result.rewards
            )));
        }
        if let Some(diff) = difference(&recorded.render, &env.render()) {
            return Err(fail(format!("render differs{diff}")));
        }
        chain = chain_state(&chain, env.as_ref(), &mut state)
            .map_err(|error| fail(format!("state cannot be encoded: {error}")))?;
        if has_state {
            check_info_and_state(env.as_ref(), recorded, &state, &mut info).map_err(fail)?;
        }
        let hash = hex::encode(chain);
        if hash != recorded.state_hash {
            return Err(fail(format!(
                "state hash differs: recorded {}, re-simulated {}",
                short_hash(&recorded.state_hash),
                short_hash(&hash)
            )));
        }
    }

    let scores = env.scores();
    let steps = u32::try_from(replay.frames.len()).unwrap_or(u32::MAX);
    if let Some(outcome) = &replay.outcome {
        if outcome.total_steps != steps {
            return Err(VerifyError::Outcome(format!(
                "total_steps is {}, the replay has {steps} steps",
                outcome.total_steps
            )));
        }
        if outcome.seed != replay.seed {
            return Err(VerifyError::Outcome(format!(
                "seed is {}, the replay was played with {}",
                outcome.seed, replay.seed
            )));
        }
        if outcome.agents.len() != players {
            return Err(VerifyError::Outcome(format!(
                "{} agent results for {players} players",
                outcome.agents.len()
            )));
        }
        for (player, (agent, score)) in outcome.agents.iter().zip(&scores).enumerate() {
            if agent.agent_id != replay.agents[player] {
                return Err(VerifyError::Outcome(format!(
                    "seat {player} is {:?}, the replay seats {:?}",
                    agent.agent_id, replay.agents[player]
                )));
            }
            if agent.score != *score {
                return Err(VerifyError::Outcome(format!(
                    "{}'s score is {}, re-simulated {score}",
                    agent.agent_id, agent.score
                )));
            }
        }
        if let Some(winner) = &outcome.winner {
            if !replay.agents.contains(winner) {
                return Err(VerifyError::Outcome(format!(
                    "winner {winner:?} is not one of the agents"
                )));
            }
        }
    }

    Ok(VerifyReport {
        match_id: replay.match_id.clone(),
        environment: replay.environment.clone(),
        steps,
        final_state_hash: hex::encode(chain),
        scores,
        outcome_checked: replay.outcome.is_some(),
        engine_version: replay.engine_version.clone(),
    })
}

/// Compares a frame's info and state with the re-simulated ones (`state` holds the canonical JSON of the state
/// just hashed; `info` is a buffer reused from frame to frame); `Err` says which differs and where.
fn check_info_and_state(
    env: &dyn Environment,
    recorded: &Frame,
    state: &[u8],
    info: &mut Vec<u8>,
) -> Result<(), String> {
    info.clear();
    env.write_step_info(info)
        .map_err(|error| format!("info cannot be encoded: {error}"))?;
    for (name, recorded, actual) in [
        ("info", &recorded.info, info.as_slice()),
        ("state", &recorded.state, state),
    ] {
        let actual: Value = serde_json::from_slice(actual)
            .map_err(|error| format!("{name} cannot be read back: {error}"))?;
        if let Some(diff) = difference(recorded, &actual) {
            return Err(format!("{name} differs{diff}"));
        }
    }
    Ok(())
}

/// Reads a replay file of schema version 1 or 2, plain JSON or gzip-compressed JSON (recognised by its magic
/// bytes, whatever the name).
pub fn read_replay(path: &Path) -> Result<Replay, VerifyError> {
    let display = path.display().to_string();
    let read_error = |source| VerifyError::Read {
        path: display.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut raw = Vec::new();
    file.take(MAX_REPLAY_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(read_error)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(MAX_REPLAY_BYTES + 1)
            .read_to_end(&mut plain)
            .map_err(read_error)?;
        plain
    } else {
        raw
    };
    if bytes.len() as u64 > MAX_REPLAY_BYTES {
        return Err(VerifyError::TooLarge { path: display });
    }
    proto::replay::from_slice(&bytes).map_err(|error| match error {
        proto::Error::ReplayVersion { found } => VerifyError::Schema { found },
        proto::Error::Replay(source) => VerifyError::Parse {
            path: display,
            source,
        },
        other => VerifyError::Parse {
            path: display,
            source: serde::de::Error::custom(other),
        },
    })
}

/// Reads and verifies a replay file: what `orchestrator verify REPLAY` does.
pub fn verify_file(path: &Path) -> Result<VerifyReport, VerifyError> {
    verify(&read_replay(path)?)
}

fn status_name(status: MoveStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{status:?}"))
}

/// The first place where two JSON documents differ, as `" at ball.x: recorded 0.5, re-simulated 0.52"`;
/// `None` when they are equal.
fn difference(recorded: &Value, actual: &Value) -> Option<String> {
    if recorded == actual {
        return None;
    }
    let mut path = String::new();
    let (left, right) = first_difference(recorded, actual, &mut path);
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    };
    Some(format!(
        "{at}: recorded {}, re-simulated {}",
        shown(left),
        shown(right)
    ))
}

fn first_difference<'a>(
    recorded: &'a Value,
    actual: &'a Value,
    path: &mut String,
) -> (&'a Value, &'a Value) {
    match (recorded, actual) {
        (Value::Object(a), Value::Object(b)) => {
            let keys = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
            for key in keys {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) if x == y => continue,
                    (Some(x), Some(y)) => {
                        push_path(path, key);
                        return first_difference(x, y, path);
                    }
                    _ => {
                        push_path(path, key);
                        return (
                            a.get(key).unwrap_or(&Value::Null),
                            b.get(key).unwrap_or(&Value::Null),
                        );
                    }
                }
            }
            (recorded, actual)
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            match a.iter().zip(b).position(|(x, y)| x != y) {
                Some(i) => {
                    path.push_str(&format!("[{i}]"));
                    first_difference(&a[i], &b[i], path)
                }
                None => (recorded, actual),
            }
        }
        _ => (recorded, actual),
    }
}

fn push_path(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// A JSON value as text, cut short for messages.
fn shown(value: &Value) -> String {
    common::text::shorten(&value.to_string(), SHOWN_CHARS)
}

/// The start of a hex hash, enough to tell two apart.
fn short_hash(hash: &str) -> String {
    common::text::shorten(hash, 16)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn differences_name_the_first_diverging_path() {
        let cases = [
            (json!({"a": 1}), json!({"a": 1}), None),
            (
                json!({"ball": {"x": 0.5, "y": 1}}),
                json!({"ball": {"x": 0.25, "y": 1}}),
                Some(" at ball.x: recorded 0.5, re-simulated 0.25"),
            ),
            (
                json!({"board": [0, 1, 2]}),
                json!({"board": [0, 2, 2]}),
                Some(" at board[1]: recorded 1, re-simulated 2"),
            ),
            (
                json!({"board": [0]}),
                json!({"board": [0, 1]}),
                Some(" at board: recorded [0], re-simulated [0,1]"),
            ),
            (
                json!({"a": 1}),
                json!({"a": 1, "b": 2}),
                Some(" at b: recorded null, re-simulated 2"),
            ),
            (json!(1), json!(2), Some(": recorded 1, re-simulated 2")),
        ];
        for (recorded, actual, want) in cases {
            assert_eq!(
                difference(&recorded, &actual).as_deref(),
                want,
                "{recorded} {actual}"
            );
        }
    }

    #[test]
    fn hashes_and_values_are_cut_short() {
        assert_eq!(
            short_hash(&"ab".repeat(32)),
            format!("{}...", "ab".repeat(8))
        );
        assert_eq!(short_hash("abc"), "abc");
        assert!(shown(&Value::String("x".repeat(500))).len() < 100);
    }
}
