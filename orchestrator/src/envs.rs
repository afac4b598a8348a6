//! Game environments: the [`Environment`] trait every game implements and the catalog of built-in games.
//!
//! An environment is deterministic from its configuration and seed: the same actions give the same states.
//! It serves N players that move simultaneously (every player acts every step) or in turns (only the players
//! returned by [`Environment::to_move`] act; the others are idle that step).

use serde_json::{Map, Value};

pub mod pong;

/// Why an environment could not be created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    #[error("unknown environment {name:?}; known environments: {known}")]
    Unknown { name: String, known: String },
    #[error("{env} config: {message}")]
    Config { env: &'static str, message: String },
}

/// Whether players act together or one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveStyle {
    Simultaneous,
    TurnBased,
}

/// What the catalog knows about an environment without creating one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvInfo {
    pub name: &'static str,
    pub players: usize,
    pub move_style: MoveStyle,
    /// One line for listings and error messages.
    pub description: &'static str,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// Reward of each player for this step, in seat order.
    pub rewards: Vec<f64>,
    /// The game is over; no further step may be taken.
    pub done: bool,
}

/// A game the orchestrator can run.
pub trait Environment: Send {
    /// The catalog entry of this environment.
    fn info(&self) -> EnvInfo;
    /// The effective configuration, defaults included (recorded in the replay).
    fn config(&self) -> Map<String, Value>;
    /// Players that must act in the current state. Every player for simultaneous games.
    fn to_move(&self) -> Vec<usize>;
    /// What `player` sees now, as sent to its agent.
    fn observation(&self, player: usize) -> Value;
    /// The action used for a player that timed out, crashed or sent an illegal action.
    fn default_action(&self, player: usize) -> Value;
    /// Checks and normalises an action from `player` (for example `2.0` to `2`); `Err` says why it is illegal.
    fn parse_action(&self, player: usize, action: &Value) -> Result<Value, String>;
    /// Advances the game. `actions[p]` is the (legal, normalised) action of player `p`, `None` for idle
    /// players. Must not be called after a step returned `done`.
    fn step(&mut self, actions: &[Option<Value>]) -> StepResult;
    /// Current score of every player (the `score` of each agent's result).
    fn scores(&self) -> Vec<f64>;
    /// State for viewers: everything needed to draw the current frame.
    fn render(&self) -> Value;
    /// Canonical full state, hashed into the replay's state chain.
    fn state(&self) -> Value;
}

/// The built-in environments.
pub fn catalog() -> &'static [EnvInfo] {
    &[pong::INFO]
}

/// Finds an environment in the catalog.
pub fn info(name: &str) -> Result<EnvInfo, EnvError> {
    catalog()
        .iter()
        .find(|e| e.name == name)
        .copied()
        .ok_or_else(|| EnvError::Unknown {
            name: name.to_string(),
            known: catalog().iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
        })
}

/// Creates a fresh game from its name, configuration (unknown keys are an error) and seed.
pub fn make(name: &str, config: &Map<String, Value>, seed: u64) -> Result<Box<dyn Environment>, EnvError> {
    match info(name)?.name {
        "pong" => Ok(Box::new(pong::Pong::new(config, seed)?)),
        other => Err(EnvError::Unknown {
            name: other.to_string(),
            known: String::new(),
        }),
    }
}
