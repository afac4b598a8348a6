//! The replay document, schema version 1: everything needed to watch a match and to re-simulate it.
//!
//! The JSON Schema of what these types serialise to is `proto/schema/replay-v1.schema.json`; a test validates
//! real replays against it.

use serde::{Deserialize, Serialize};

use crate::outcome::MatchOutcome;

/// The schema version this crate writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A recorded match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub schema_version: u32,
    /// Version of the orchestrator that played the match; environments are versioned with it.
    pub engine_version: String,
    pub match_id: String,
    pub environment: String,
    /// The full configuration the environment ran with, defaults included.
    pub config: serde_json::Map<String, serde_json::Value>,
    pub seed: u64,
    /// Agent ids in seat order.
    pub agents: Vec<String>,
    /// Render state before the first step.
    pub initial_render: serde_json::Value,
    pub steps: Vec<ReplayStep>,
    /// The final result; absent only in a replay cut short by a crash of the orchestrator itself.
    pub outcome: Option<MatchOutcome>,
}

/// One step of the match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayStep {
    /// 1-based step number.
    pub step: u32,
    /// The actions applied, per player (defaults included when the agent failed).
    pub actions: Vec<serde_json::Value>,
    pub rewards: Vec<f64>,
    /// What each player's move was this step.
    pub statuses: Vec<MoveStatus>,
    /// Wall-clock milliseconds each player took (0 for players not on move).
    pub time_ms: Vec<f64>,
    /// The environment's render state after the step.
    pub render: serde_json::Value,
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
