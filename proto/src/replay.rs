//! The replay document: everything needed to watch a match and to re-simulate it.
//!
//! Schema version 2 (what the orchestrator writes) has the layout of the `rl-arena` package's match recorder
//! (`metadata`, `start_time`, `end_time`, `duration`, `num_frames`, and `frames` of `{step, state, actions,
//! rewards, info}`), so the RL Arena backend and web app play it, with this project's fields beside it: each
//! frame's move statuses, times, render state and chained state hash, and the document's environment,
//! configuration, seed, agents, initial render and outcome for re-simulation. Seeds are decimal strings. Its
//! JSON Schema is `proto/schema/replay-v2.schema.json`.
//!
//! Schema version 1 (`steps` instead of `frames`, no `info` or `state`, numeric seeds;
//! `proto/schema/replay-v1.schema.json`) is still read: [`from_slice`] turns it into a [`Replay`].
//!
//! Tests validate real replays of both versions against their schema files.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::outcome::MatchOutcome;
use crate::{Error, Result};

/// The schema version this crate writes.
pub const SCHEMA_VERSION: u32 = 2;

/// A recorded match (schema version 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// The version of the document read: 2, or 1 for a replay converted by [`from_slice`].
    pub schema_version: u32,
    /// Version of the orchestrator that played the match; environments are versioned with it.
    pub engine_version: String,
    pub match_id: String,
    pub environment: String,
    /// The full configuration the environment ran with, defaults included.
    pub config: Map<String, Value>,
    /// Written as a decimal string, so that JavaScript reads it exactly; read from a string or a number.
    #[serde(
        serialize_with = "crate::seed::serialize_text",
        deserialize_with = "crate::seed::deserialize"
    )]
    pub seed: u64,
    /// Agent ids in seat order.
    pub agents: Vec<String>,
    /// What the match was, for listings and replay players.
    pub metadata: Metadata,
    /// When recording started (RFC 3339, UTC); `None` in version 1.
    pub start_time: Option<String>,
    /// When recording ended (RFC 3339, UTC); `None` in version 1.
    pub end_time: Option<String>,
    /// Seconds between `start_time` and `end_time`; `None` in version 1.
    pub duration: Option<f64>,
    /// The number of frames: one per step played.
    pub num_frames: u32,
    /// Render state before the first step.
    pub initial_render: Value,
    pub frames: Vec<Frame>,
    /// The final result; absent only in a replay cut short by a crash of the orchestrator itself. Its seed is
    /// written as a decimal string too.
    #[serde(with = "outcome_text_seed")]
    pub outcome: Option<MatchOutcome>,
}

/// The `metadata` object: a summary of the match. `finalScore`, `duration` and `timestamp` are the keys the RL
/// Arena web app's replay dialog shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub environment: String,
    /// Agent ids in seat order.
    pub agents: Vec<String>,
    /// The final scores in seat order, as text: `"3 - 1"`; `None` without an outcome.
    #[serde(rename = "finalScore")]
    pub final_score: Option<String>,
    /// Seconds the match took; `None` without an outcome.
    pub duration: Option<f64>,
    /// When the match started (RFC 3339, UTC); `None` in version 1.
    pub timestamp: Option<String>,
}

/// One step of the match, as a frame of the replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// 1-based step number: frame `k` of the array (from 0) is step `k + 1`, the state after it.
    pub step: u32,
    /// The actions applied, per player (defaults included when the agent failed).
    pub actions: Vec<Value>,
    pub rewards: Vec<f64>,
    /// What each player's move was this step.
    pub statuses: Vec<MoveStatus>,
    /// Wall-clock milliseconds each player took (0 for players not on move).
    pub time_ms: Vec<f64>,
    /// What the environment's step reports beside the observation (pong: `scores`, `ball_pos`,
    /// `paddle_positions`, as `rl-arena`'s pong returns them; every game: `scores`). `null` in version 1.
    pub info: Value,
    /// The environment's render state after the step.
    pub render: Value,
    /// The environment's full state after the step, the canonical JSON that `state_hash` chains. `null` in
    /// version 1.
    pub state: Value,
    /// SHA-256 (hex) chained over the previous hash and this step's state.
    pub state_hash: String,
}

/// How one player's move went in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveStatus {
    /// The agent answered a legal action in time.
    Ok,
    /// The player was not on move.
    Idle,
    /// The agent missed the deadline; the default action was used.
    Timeout,
    /// The answer was malformed or illegal; the default action was used.
    InvalidAction,
    /// The agent is gone; the default action was used.
    Crashed,
    /// The agent was disqualified earlier; the default action was used.
    Disqualified,
}

impl Metadata {
    /// The summary of a match between `agents`, with `outcome` when it has one.
    pub fn new(
        environment: &str,
        agents: &[String],
        outcome: Option<&MatchOutcome>,
        timestamp: Option<String>,
    ) -> Self {
        Self {
            environment: environment.to_string(),
            agents: agents.to_vec(),
            final_score: outcome.map(|o| {
                let scores: Vec<String> = o.agents.iter().map(|a| a.score.to_string()).collect();
                scores.join(" - ")
            }),
            duration: outcome.map(|o| o.execution_time_sec),
            timestamp,
        }
    }
}

/// Reads a replay document of any readable schema version (1 or 2).
pub fn from_slice(bytes: &[u8]) -> Result<Replay> {
    #[derive(Deserialize)]
    struct Version {
        schema_version: u64,
    }
    let Version { schema_version } = serde_json::from_slice(bytes).map_err(Error::Replay)?;
    match schema_version {
        1 => serde_json::from_slice::<v1::Replay>(bytes)
            .map(Replay::from)
            .map_err(Error::Replay),
        2 => serde_json::from_slice(bytes).map_err(Error::Replay),
        found => Err(Error::ReplayVersion { found }),
    }
}

/// The embedded outcome, with its seed written as a decimal string.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeWithTextSeed<'a>(pub &'a MatchOutcome);

impl Serialize for OutcomeWithTextSeed<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(self.0).map_err(serde::ser::Error::custom)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("seed".into(), Value::String(self.0.seed.to_string()));
        }
        value.serialize(serializer)
    }
}

/// `Replay::outcome` through [`OutcomeWithTextSeed`]; reading takes either form of the seed.
mod outcome_text_seed {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::OutcomeWithTextSeed;
    use crate::outcome::MatchOutcome;

    pub(super) fn serialize<S: Serializer>(
        outcome: &Option<MatchOutcome>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        outcome
            .as_ref()
            .map(OutcomeWithTextSeed)
            .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<MatchOutcome>, D::Error> {
        Option::<MatchOutcome>::deserialize(deserializer)
    }
}

/// Schema version 1, read for older replays.
pub mod v1 {
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value};

    use super::{Frame, Metadata, MoveStatus};
    use crate::outcome::MatchOutcome;

    /// A recorded match in schema version 1.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Replay {
        pub schema_version: u32,
        pub engine_version: String,
        pub match_id: String,
        pub environment: String,
        pub config: Map<String, Value>,
        #[serde(deserialize_with = "crate::seed::deserialize")]
        pub seed: u64,
        pub agents: Vec<String>,
        pub initial_render: Value,
        pub steps: Vec<ReplayStep>,
        pub outcome: Option<MatchOutcome>,
    }

    /// One step in schema version 1: a [`Frame`] without `info` and `state`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ReplayStep {
        pub step: u32,
        pub actions: Vec<Value>,
        pub rewards: Vec<f64>,
        pub statuses: Vec<MoveStatus>,
        pub time_ms: Vec<f64>,
        pub render: Value,
        pub state_hash: String,
    }

    impl From<Replay> for super::Replay {
        fn from(old: Replay) -> Self {
            let frames: Vec<Frame> = old
                .steps
                .into_iter()
                .map(|s| Frame {
                    step: s.step,
                    actions: s.actions,
                    rewards: s.rewards,
                    statuses: s.statuses,
                    time_ms: s.time_ms,
                    info: Value::Null,
                    state: Value::Null,
                    render: s.render,
                    state_hash: s.state_hash,
                })
                .collect();
            Self {
                schema_version: old.schema_version,
                metadata: Metadata::new(&old.environment, &old.agents, old.outcome.as_ref(), None),
                engine_version: old.engine_version,
                match_id: old.match_id,
                environment: old.environment,
                config: old.config,
                seed: old.seed,
                agents: old.agents,
                start_time: None,
                end_time: None,
                duration: None,
                num_frames: u32::try_from(frames.len()).unwrap_or(u32::MAX),
                initial_render: old.initial_render,
                frames,
                outcome: old.outcome,
            }
        }
    }
}

#[cfg(test)]
mod tests;
