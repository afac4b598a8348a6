//! The games of RL Arena: the [`Environment`] trait every game implements, the catalog of built-in games with
//! their configuration schemas, and the canonical JSON their states are hashed as. The orchestrator plays them;
//! the executor checks requests against the catalog (`info`, `make`, `config_schema`) without linking the
//! orchestrator.
//!
//! An environment is deterministic from its configuration and seed: the same actions give the same states.
//! It serves N players that move simultaneously (every player acts every step) or in turns (only the players
//! returned by [`Environment::to_move`] act; the others are idle that step).
//!
//! - `pong`: Pong of the `rl-arena` Python package, bit-exact with it (`numpy_rng` is its generator).
//! - `rps`, `connectx`, `tictactoe`: games of `kaggle-environments`, with the rules they share in
//!   `kaggle` (configuration, episode length, rewards as changes of kaggle's running outcome); the two board
//!   games share `board` (turns, observation, state: everything but what a move does to the board).
//! - `config`: each game's configuration keys, described once: reading and checking a JSON configuration,
//!   the defaults and [`config_schema`] all come from those descriptions.
//! - [`canonical`]: the canonical JSON of states (keys sorted, no whitespace).

use serde_json::{Map, Value};

use config::Param;

mod board;
pub mod canonical;
mod config;
pub(crate) mod connectx;
mod kaggle;
pub(crate) mod numpy_rng;
pub(crate) mod pong;
pub(crate) mod rps;
pub(crate) mod tictactoe;

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

impl MoveStyle {
    /// The name used on the wire (`ListEnvironments`) and in documents: `simultaneous` or `turn_based`.
    pub fn as_str(self) -> &'static str {
        match self {
            MoveStyle::Simultaneous => "simultaneous",
            MoveStyle::TurnBased => "turn_based",
        }
    }
}

/// What the catalog knows about an environment without creating one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvInfo {
    pub name: &'static str,
    pub players: usize,
    pub move_style: MoveStyle,
    /// One line for listings and error messages.
    pub description: &'static str,
    /// What an agent answers in `{"action": ...}`, for agent authors (`ListEnvironments`, docs).
    pub action: &'static str,
    /// What an agent receives as `observation` in each `step` message, for agent authors.
    pub observation: &'static str,
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
    /// The most steps a game with this configuration can last (its episode limit): what bounds the size of
    /// its replay.
    fn max_steps(&self) -> u64;
    /// Current score of every player (the `score` of each agent's result).
    fn scores(&self) -> Vec<f64>;
    /// State for viewers: everything needed to draw the current frame.
    fn render(&self) -> Value;
    /// Canonical full state, hashed into the replay's state chain.
    fn state(&self) -> Value;
    /// Appends the JSON of [`render`](Self::render) to `out`, exactly as `serde_json` encodes it. The match
    /// loop calls this every step; a game may write it directly instead of building a [`Value`].
    fn write_render(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, &self.render())
    }
    /// Appends the canonical JSON of [`state`](Self::state) to `out` (see [`canonical`]); a game may write it
    /// directly instead of building a [`Value`].
    fn write_state(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        canonical::write_canonical(&self.state(), out)
    }
    /// Appends the JSON of what the last step reports beside the observation (a replay frame's `info`, like
    /// the `info` of an `rl-arena` environment's `step()`): a JSON object with at least `scores`, every
    /// player's [`scores`](Self::scores). A game adds what viewers of its replays draw. Keys in sorted order,
    /// as a [`Value`] map writes them.
    fn write_step_info(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(
            out,
            &ScoresInfo {
                scores: &self.scores(),
            },
        )
    }
}

/// The step info every game has: the scores so far.
#[derive(serde::Serialize)]
struct ScoresInfo<'a> {
    scores: &'a [f64],
}

/// A constructor of one built-in environment.
type Constructor = fn(&Map<String, Value>, u64) -> Result<Box<dyn Environment>, EnvError>;

/// One built-in environment: its catalog entry, its configuration keys and its constructor.
struct Entry {
    info: EnvInfo,
    params: &'static [Param],
    construct: Constructor,
}

/// The registry entry of the game `$game` of module `$module` (its `INFO`, `PARAMS` and `$game::new`).
macro_rules! entry {
    ($module:ident::$game:ident) => {
        Entry {
            info: $module::INFO,
            params: &$module::PARAMS,
            construct: |c, s| Ok(Box::new($module::$game::new(c, s)?)),
        }
    };
}

/// The built-in environments, in catalog order.
const REGISTRY: [Entry; 4] = [
    entry!(pong::Pong),
    entry!(rps::Rps),
    entry!(connectx::ConnectX),
    entry!(tictactoe::TicTacToe),
];

/// Catalog entries: those of [`REGISTRY`], in its order.
const CATALOG: [EnvInfo; REGISTRY.len()] = {
    let mut infos = [REGISTRY[0].info; REGISTRY.len()];
    let mut i = 1;
    while i < REGISTRY.len() {
        infos[i] = REGISTRY[i].info;
        i += 1;
    }
    infos
};

/// The built-in environments.
pub fn catalog() -> &'static [EnvInfo] {
    &CATALOG
}

/// Finds an environment in the catalog.
pub fn info(name: &str) -> Result<EnvInfo, EnvError> {
    CATALOG
        .iter()
        .find(|e| e.name == name)
        .copied()
        .ok_or_else(|| unknown(name))
}

/// Creates a fresh game from its name, configuration (unknown keys are an error) and seed.
pub fn make(
    name: &str,
    config: &Map<String, Value>,
    seed: u64,
) -> Result<Box<dyn Environment>, EnvError> {
    let entry = REGISTRY
        .iter()
        .find(|e| e.info.name == name)
        .ok_or_else(|| unknown(name))?;
    (entry.construct)(config, seed)
}

/// The error for a name that is not in the catalog; it lists the names that are.
fn unknown(name: &str) -> EnvError {
    let known: Vec<&str> = CATALOG.iter().map(|e| e.name).collect();
    EnvError::Unknown {
        name: name.to_string(),
        known: known.join(", "),
    }
}

/// The JSON Schema (draft 2020-12) of an environment's configuration object: every key with its type,
/// `default`, range and description; unknown keys are not allowed. `None` for an unknown environment.
pub fn config_schema(name: &str) -> Option<Value> {
    REGISTRY
        .iter()
        .find(|e| e.info.name == name)
        .map(|e| config::schema(e.info.name, e.params))
}

/// Longest rendering of a rejected action kept in an error message.
const SHOWN_ACTION_CHARS: usize = 64;

/// A rejected action as JSON text, cut short so a huge action cannot flood logs and results.
pub(crate) fn shown(action: &Value) -> String {
    common::text::shorten(&action.to_string(), SHOWN_ACTION_CHARS)
}

/// Checks a discrete action `0..names.len()`: JSON integers and integral floats (`2.0` becomes `2`).
pub(crate) fn parse_discrete_action(
    env: &str,
    action: &Value,
    names: &[&str],
) -> Result<Value, String> {
    match config::as_integer(action) {
        Some(n) if usize::try_from(n).is_ok_and(|n| n < names.len()) => Ok(Value::from(n)),
        _ => {
            let choices: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{i} ({n})"))
                .collect();
            Err(format!(
                "{env} action must be one of {}, got {}",
                choices.join(", "),
                shown(action)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_and_catalog_agree() {
        let names: Vec<&str> = REGISTRY.iter().map(|e| e.info.name).collect();
        let catalog_names: Vec<&str> = catalog().iter().map(|i| i.name).collect();
        assert_eq!(names, catalog_names);
        for entry in &REGISTRY {
            let env = (entry.construct)(&Map::new(), 1).map(|e| e.info());
            assert_eq!(env, Ok(entry.info));
            assert!(!entry.info.action.is_empty() && !entry.info.observation.is_empty());
        }
    }

    /// The schema's defaults are exactly what a fresh game runs with, and `make` accepts them, so the schema
    /// shown to clients cannot drift from the validation.
    #[test]
    fn schema_defaults_are_the_games_defaults() {
        for info in catalog() {
            let schema = config_schema(info.name).unwrap_or_default();
            assert_eq!(schema["type"], "object", "{}", info.name);
            assert_eq!(schema["additionalProperties"], false, "{}", info.name);
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let defaults: Map<String, Value> = properties
                .iter()
                .map(|(key, p)| (key.clone(), p["default"].clone()))
                .collect();
            let fresh = make(info.name, &Map::new(), 7).map(|e| e.config());
            assert_eq!(fresh.as_ref(), Ok(&defaults), "{}", info.name);
            let explicit = make(info.name, &defaults, 7).map(|e| (e.config(), e.state()));
            let implicit = make(info.name, &Map::new(), 7).map(|e| (e.config(), e.state()));
            assert_eq!(explicit, implicit, "{}", info.name);
            for (key, p) in &properties {
                let kind = p["type"].as_str().unwrap_or("");
                assert!(
                    kind == "integer" || kind == "number",
                    "{}.{key}: {p}",
                    info.name
                );
                assert!(p["description"].as_str().is_some_and(|d| !d.is_empty()));
            }
        }
        assert_eq!(config_schema("chess"), None);
    }

    /// Every range in a schema is the range `make` enforces: the bounds are accepted (inclusive) or refused
    /// (exclusive), and one step beyond is refused.
    #[test]
    fn schema_ranges_are_enforced() {
        for info in catalog() {
            let schema = config_schema(info.name).unwrap_or_default();
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (key, p) in &properties {
                let integer = p["type"] == "integer";
                let step = if integer { 1.0 } else { 1e-9 };
                let checks = [
                    ("minimum", 0.0, true),
                    ("minimum", -step, false),
                    ("maximum", 0.0, true),
                    ("maximum", step, false),
                    ("exclusiveMinimum", 0.0, false),
                    ("exclusiveMinimum", step, true),
                    ("exclusiveMaximum", 0.0, false),
                    ("exclusiveMaximum", -step, true),
                ];
                for (bound, offset, accepted) in checks {
                    let Some(edge) = p[bound].as_f64() else {
                        continue;
                    };
                    let value = if integer {
                        Value::from((edge + offset) as i64)
                    } else {
                        Value::from(edge + offset)
                    };
                    let mut config = Map::new();
                    config.insert(key.clone(), value.clone());
                    // Connectx needs inarow within the board; other keys at their defaults suffice.
                    let result = make(info.name, &config, 1);
                    let ok = result.is_ok()
                        || result
                            .as_ref()
                            .err()
                            .is_some_and(|e| !e.to_string().contains(key.as_str()));
                    assert_eq!(ok, accepted, "{}.{key} = {value} ({bound})", info.name);
                }
            }
        }
    }

    #[test]
    fn move_styles_have_wire_names() {
        assert_eq!(MoveStyle::Simultaneous.as_str(), "simultaneous");
        assert_eq!(MoveStyle::TurnBased.as_str(), "turn_based");
        assert_eq!(
            serde_json::to_value(MoveStyle::TurnBased).ok(),
            Some(Value::from("turn_based"))
        );
    }

    #[test]
    fn unknown_names_list_the_catalog() {
        let err = make("chess", &Map::new(), 0).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown environment \"chess\"; known environments: pong, rps, connectx, tictactoe"
            )
        );
    }

    #[test]
    fn long_actions_are_cut_in_messages() {
        let action = Value::String("x".repeat(1000));
        let err = parse_discrete_action("pong", &action, &["up", "stay", "down"])
            .err()
            .unwrap_or_default();
        assert!(err.len() < 200, "{err}");
        assert!(err.ends_with("..."), "{err}");
    }
}
