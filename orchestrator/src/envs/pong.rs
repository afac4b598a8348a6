//! Pong with the rules, defaults and numerics of the `rl-arena` 0.1.2 Python package, bit for bit.
//!
//! The field is the unit square. The ball starts at the centre at `ball_speed` in a random direction (angle
//! uniform in ±45°, left or right with equal chance). Each step both paddles move (`0` up, `1` stay, `2`
//! down, by `paddle_speed`, clamped to `[0, 1]`), then the ball moves, bounces off the top and bottom walls,
//! is returned by a paddle it touches (with a random vertical nudge), and a point is scored when it leaves
//! the field on the left or right, after which it restarts from the centre. The game ends when a player
//! reaches `winning_score` or after `max_steps` steps.
//!
//! Exactness: the Python state keeps the ball's position and velocity in `float32` NumPy arrays and the
//! paddles in Python floats (`float64`). NumPy 2 treats a Python float next to a `float32` as `float32`
//! (NEP 50), so every ball computation, comparison included, is done in `f32` here with the `f64`
//! operands rounded first. Randomness is NumPy's `default_rng(seed)`, drawn in the same order.

use std::f64::consts::PI;

use serde_json::{Map, Value, json};

use super::config::{ConfigReader, as_integer};
use super::numpy_rng::Generator;
use super::{EnvError, EnvInfo, Environment, MoveStyle, StepResult, parse_discrete_action};

/// Catalog entry.
pub const INFO: EnvInfo = EnvInfo {
    name: "pong",
    players: 2,
    move_style: MoveStyle::Simultaneous,
    description: "two-player Pong of the rl-arena package; actions 0 up, 1 stay, 2 down",
};

const ACTION_UP: i64 = 0;
const ACTION_STAY: i64 = 1;
const ACTION_DOWN: i64 = 2;
const ACTION_NAMES: [&str; 3] = ["up", "stay", "down"];

/// The x coordinates of the paddles' faces, fixed in the package.
const LEFT_FACE: f32 = 0.05;
const RIGHT_FACE: f32 = 0.95;

/// Configuration keys of the package's `config.yaml`.
const KEYS: [&str; 10] = [
    "width",
    "height",
    "paddle_height",
    "paddle_width",
    "paddle_speed",
    "ball_radius",
    "ball_speed",
    "winning_score",
    "max_steps",
    "render_fps",
];

/// Pong's settings, defaults from the package's `config.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct PongConfig {
    /// Field size reported to viewers; the package's physics always uses the unit square.
    pub width: f64,
    pub height: f64,
    /// Full paddle length; the ball is returned within half of it from the paddle's centre.
    pub paddle_height: f64,
    /// Drawn only: the paddles' faces are fixed at x = 0.05 and x = 0.95.
    pub paddle_width: f64,
    pub paddle_speed: f64,
    pub ball_radius: f64,
    pub ball_speed: f64,
    pub winning_score: u64,
    pub max_steps: u64,
    /// Playback speed suggested to viewers.
    pub render_fps: u64,
}

impl Default for PongConfig {
    fn default() -> Self {
        PongConfig {
            width: 1.0,
            height: 1.0,
            paddle_height: 0.2,
            paddle_width: 0.02,
            paddle_speed: 0.05,
            ball_radius: 0.02,
            ball_speed: 0.02,
            winning_score: 11,
            max_steps: 1000,
            render_fps: 60,
        }
    }
}

impl PongConfig {
    /// Reads a JSON configuration; absent keys keep their defaults.
    pub fn from_map(map: &Map<String, Value>) -> Result<PongConfig, EnvError> {
        let r = ConfigReader::new(INFO.name, map, &KEYS)?;
        let d = PongConfig::default();
        let positive = |x: f64| x > 0.0;
        let unit = |x: f64| x > 0.0 && x <= 1.0;
        Ok(PongConfig {
            width: r.number("width", d.width, "greater than 0", positive)?,
            height: r.number("height", d.height, "greater than 0", positive)?,
            paddle_height: r.number("paddle_height", d.paddle_height, "in (0, 1]", unit)?,
            paddle_width: r.number("paddle_width", d.paddle_width, "in [0, 0.5]", |x| {
                (0.0..=0.5).contains(&x)
            })?,
            paddle_speed: r.number("paddle_speed", d.paddle_speed, "in (0, 1]", unit)?,
            ball_radius: r.number("ball_radius", d.ball_radius, "in [0, 0.5)", |x| {
                (0.0..0.5).contains(&x)
            })?,
            ball_speed: r.number("ball_speed", d.ball_speed, "in (0, 1]", unit)?,
            winning_score: r
                .integer("winning_score", 11, 1, 1_000_000_000)?
                .unsigned_abs(),
            max_steps: r.integer("max_steps", 1000, 1, 100_000_000)?.unsigned_abs(),
            render_fps: r.integer("render_fps", 60, 1, 1000)?.unsigned_abs(),
        })
    }

    /// The effective configuration as JSON, every key present.
    pub fn to_map(&self) -> Map<String, Value> {
        let value = json!({
            "width": self.width,
            "height": self.height,
            "paddle_height": self.paddle_height,
            "paddle_width": self.paddle_width,
            "paddle_speed": self.paddle_speed,
            "ball_radius": self.ball_radius,
            "ball_speed": self.ball_speed,
            "winning_score": self.winning_score,
            "max_steps": self.max_steps,
            "render_fps": self.render_fps,
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// One game of Pong.
#[derive(Debug, Clone)]
pub struct Pong {
    config: PongConfig,
    rng: Generator,
    /// Ball position and velocity are `float32` in the package, so they are `f32` here.
    ball: [f32; 2],
    velocity: [f32; 2],
    /// Paddle centres (y) of players 0 and 1; Python floats in the package.
    paddles: [f64; 2],
    scores: [u64; 2],
    steps: u64,
    done: bool,
}

impl Pong {
    /// A game as the package's `PongEnvironment(config)` after `reset(seed=seed)`.
    pub fn new(config: &Map<String, Value>, seed: u64) -> Result<Pong, EnvError> {
        Ok(Pong::with_config(PongConfig::from_map(config)?, seed))
    }

    /// Same as [`Pong::new`] from an already checked configuration.
    pub fn with_config(config: PongConfig, seed: u64) -> Pong {
        let mut pong = Pong {
            config,
            rng: Generator::default_rng(seed),
            ball: [0.5, 0.5],
            velocity: [0.0, 0.0],
            paddles: [0.5, 0.5],
            scores: [0, 0],
            steps: 0,
            done: false,
        };
        pong.reset_ball();
        pong
    }

    /// The effective configuration.
    pub fn settings(&self) -> &PongConfig {
        &self.config
    }

    /// The observation every player gets, as the package's `float32` array.
    pub fn observation_f32(&self) -> [f32; 8] {
        [
            self.ball[0],
            self.ball[1],
            self.velocity[0],
            self.velocity[1],
            self.paddles[0] as f32,
            self.paddles[1] as f32,
            self.scores[0] as f32,
            self.scores[1] as f32,
        ]
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Plays one step with raw actions (`0` up, `1` stay, `2` down; anything else stays).
    pub fn step_actions(&mut self, actions: [i64; 2]) -> StepResult {
        if self.done {
            return StepResult {
                rewards: vec![0.0, 0.0],
                done: true,
            };
        }
        for (paddle, action) in self.paddles.iter_mut().zip(actions) {
            if action == ACTION_UP {
                let y = *paddle - self.config.paddle_speed;
                *paddle = if y > 0.0 { y } else { 0.0 };
            } else if action == ACTION_DOWN {
                let y = *paddle + self.config.paddle_speed;
                *paddle = if y < 1.0 { y } else { 1.0 };
            }
        }

        self.ball[0] += self.velocity[0];
        self.ball[1] += self.velocity[1];

        if self.ball[1] <= 0.0 || self.ball[1] >= 1.0 {
            self.velocity[1] = -self.velocity[1];
            self.ball[1] = self.ball[1].clamp(0.0, 1.0);
        }

        let radius = self.config.ball_radius as f32;
        let reach = (self.config.paddle_height / 2.0) as f32;
        if self.ball[0] - radius <= LEFT_FACE
            && (self.ball[1] - self.paddles[0] as f32).abs() <= reach
        {
            self.velocity[0] = self.velocity[0].abs();
            self.velocity[1] += self.rng.uniform(-0.01, 0.01) as f32;
        }
        if self.ball[0] + radius >= RIGHT_FACE
            && (self.ball[1] - self.paddles[1] as f32).abs() <= reach
        {
            self.velocity[0] = -self.velocity[0].abs();
            self.velocity[1] += self.rng.uniform(-0.01, 0.01) as f32;
        }

        let mut rewards = vec![0.0, 0.0];
        if self.ball[0] <= 0.0 {
            self.scores[1] += 1;
            rewards = vec![-1.0, 1.0];
            self.reset_ball();
        } else if self.ball[0] >= 1.0 {
            self.scores[0] += 1;
            rewards = vec![1.0, -1.0];
            self.reset_ball();
        }

        self.steps += 1;
        let won = self.scores.iter().any(|&s| s >= self.config.winning_score);
        self.done = won || self.steps >= self.config.max_steps;
        StepResult {
            rewards,
            done: self.done,
        }
    }

    /// Puts the ball back in the centre with a random direction (two draws: angle, then side).
    fn reset_ball(&mut self) {
        self.ball = [0.5, 0.5];
        let angle = self.rng.uniform(-PI / 4.0, PI / 4.0);
        let direction = if self.rng.random() < 0.5 { 1.0 } else { -1.0 };
        self.velocity = [
            (direction * self.config.ball_speed * angle.cos()) as f32,
            (self.config.ball_speed * angle.sin()) as f32,
        ];
    }
}

/// `f32` values widened to JSON numbers; the widening is exact, so agents see the package's values.
fn numbers(values: &[f32]) -> Value {
    Value::Array(values.iter().map(|&v| json!(f64::from(v))).collect())
}

impl Environment for Pong {
    fn info(&self) -> EnvInfo {
        INFO
    }

    fn config(&self) -> Map<String, Value> {
        self.config.to_map()
    }

    fn to_move(&self) -> Vec<usize> {
        vec![0, 1]
    }

    fn observation(&self, _player: usize) -> Value {
        numbers(&self.observation_f32())
    }

    fn default_action(&self, _player: usize) -> Value {
        json!(ACTION_STAY)
    }

    fn parse_action(&self, _player: usize, action: &Value) -> Result<Value, String> {
        parse_discrete_action(INFO.name, action, &ACTION_NAMES)
    }

    fn step(&mut self, actions: &[Option<Value>]) -> StepResult {
        let action = |p: usize| {
            actions
                .get(p)
                .and_then(|a| a.as_ref())
                .and_then(as_integer)
                .unwrap_or(ACTION_STAY)
        };
        self.step_actions([action(0), action(1)])
    }

    fn scores(&self) -> Vec<f64> {
        self.scores.iter().map(|&s| s as f64).collect()
    }

    fn render(&self) -> Value {
        json!({
            "width": self.config.width,
            "height": self.config.height,
            "ball": {
                "x": f64::from(self.ball[0]),
                "y": f64::from(self.ball[1]),
                "radius": self.config.ball_radius,
            },
            "paddle1": {"y": self.paddles[0]},
            "paddle2": {"y": self.paddles[1]},
            "paddle_height": self.config.paddle_height,
            "paddle_width": self.config.paddle_width,
            "score": self.scores,
            "step": self.steps,
        })
    }

    fn state(&self) -> Value {
        let (rng_state, rng_inc) = self.rng.bits().state_hex();
        json!({
            "step": self.steps,
            "done": self.done,
            "ball": numbers(&self.ball),
            "velocity": numbers(&self.velocity),
            "paddles": self.paddles,
            "scores": self.scores,
            "rng": {"state": rng_state, "inc": rng_inc},
        })
    }
}

#[cfg(test)]
mod tests;
