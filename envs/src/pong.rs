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

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::config::{Bound, ConfigReader, IntParam, NumParam, Param, as_integer};
use super::numpy_rng::Generator;
use super::{EnvError, EnvInfo, Environment, MoveStyle, StepResult, parse_discrete_action};

/// Catalog entry.
pub(crate) const INFO: EnvInfo = EnvInfo {
    name: "pong",
    players: 2,
    move_style: MoveStyle::Simultaneous,
    description: "two-player Pong of the rl-arena package; actions 0 up, 1 stay, 2 down",
    action: "an integer: 0 moves the paddle up (y decreases) by paddle_speed, 1 stays, 2 moves it down; \
             the default action is 1",
    observation: "a list of 8 numbers (float32 values): [ball_x, ball_y, ball_vx, ball_vy, paddle1_y, \
                  paddle2_y, score1, score2]; the field is the unit square with y growing downwards, player 0 \
                  is paddle1 on the left (x = 0.05), player 1 is paddle2 on the right (x = 0.95); both \
                  players get the same list",
};

const ACTION_UP: i64 = 0;
const ACTION_STAY: i64 = 1;
const ACTION_DOWN: i64 = 2;
const ACTION_NAMES: [&str; 3] = ["up", "stay", "down"];

/// The x coordinates of the paddles' faces, fixed in the package.
const LEFT_FACE: f32 = 0.05;
const RIGHT_FACE: f32 = 0.95;

const WIDTH: NumParam = NumParam {
    key: "width",
    default: 1.0,
    min: Bound::Exclusive(0.0),
    max: Bound::Unbounded,
    description: "field width reported to viewers; the physics always uses the unit square",
};
const HEIGHT: NumParam = NumParam {
    key: "height",
    description: "field height reported to viewers; the physics always uses the unit square",
    ..WIDTH
};
const PADDLE_HEIGHT: NumParam = NumParam {
    key: "paddle_height",
    default: 0.2,
    min: Bound::Exclusive(0.0),
    max: Bound::Inclusive(1.0),
    description: "paddle length; the ball is returned within half of it from the paddle's centre",
};
const PADDLE_WIDTH: NumParam = NumParam {
    key: "paddle_width",
    default: 0.02,
    min: Bound::Inclusive(0.0),
    max: Bound::Inclusive(0.5),
    description: "paddle thickness, drawn only: the paddles' faces are fixed at x = 0.05 and x = 0.95",
};
const PADDLE_SPEED: NumParam = NumParam {
    key: "paddle_speed",
    default: 0.05,
    description: "distance a paddle moves per step",
    ..PADDLE_HEIGHT
};
const BALL_RADIUS: NumParam = NumParam {
    key: "ball_radius",
    default: 0.02,
    min: Bound::Inclusive(0.0),
    max: Bound::Exclusive(0.5),
    description: "ball radius, used when the ball meets a paddle",
};
const BALL_SPEED: NumParam = NumParam {
    key: "ball_speed",
    default: 0.02,
    description: "distance the ball travels per step at serve",
    ..PADDLE_HEIGHT
};
const WINNING_SCORE: IntParam = IntParam {
    key: "winning_score",
    default: 11,
    min: 1,
    max: 1_000_000_000,
    description: "points that win the game",
};
const MAX_STEPS: IntParam = IntParam {
    key: "max_steps",
    default: 1000,
    min: 1,
    max: 100_000_000,
    description: "steps after which the game ends as it stands",
};
const RENDER_FPS: IntParam = IntParam {
    key: "render_fps",
    default: 60,
    min: 1,
    max: 1000,
    description: "playback speed suggested to viewers, in frames per second",
};

/// Configuration keys of the package's `config.yaml`, with their defaults.
pub(crate) const PARAMS: [Param; 10] = [
    Param::Num(WIDTH),
    Param::Num(HEIGHT),
    Param::Num(PADDLE_HEIGHT),
    Param::Num(PADDLE_WIDTH),
    Param::Num(PADDLE_SPEED),
    Param::Num(BALL_RADIUS),
    Param::Num(BALL_SPEED),
    Param::Int(WINNING_SCORE),
    Param::Int(MAX_STEPS),
    Param::Int(RENDER_FPS),
];

/// Pong's settings, defaults from the package's `config.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PongConfig {
    /// Field size reported to viewers; the package's physics always uses the unit square.
    pub(crate) width: f64,
    pub(crate) height: f64,
    /// Full paddle length; the ball is returned within half of it from the paddle's centre.
    pub(crate) paddle_height: f64,
    /// Drawn only: the paddles' faces are fixed at x = 0.05 and x = 0.95.
    pub(crate) paddle_width: f64,
    pub(crate) paddle_speed: f64,
    pub(crate) ball_radius: f64,
    pub(crate) ball_speed: f64,
    pub(crate) winning_score: u64,
    pub(crate) max_steps: u64,
    /// Playback speed suggested to viewers.
    pub(crate) render_fps: u64,
}

impl Default for PongConfig {
    fn default() -> Self {
        PongConfig {
            width: WIDTH.default,
            height: HEIGHT.default,
            paddle_height: PADDLE_HEIGHT.default,
            paddle_width: PADDLE_WIDTH.default,
            paddle_speed: PADDLE_SPEED.default,
            ball_radius: BALL_RADIUS.default,
            ball_speed: BALL_SPEED.default,
            winning_score: WINNING_SCORE.default.unsigned_abs(),
            max_steps: MAX_STEPS.default.unsigned_abs(),
            render_fps: RENDER_FPS.default.unsigned_abs(),
        }
    }
}

impl PongConfig {
    /// Reads a JSON configuration; absent keys keep their defaults.
    pub(crate) fn from_map(map: &Map<String, Value>) -> Result<PongConfig, EnvError> {
        let r = ConfigReader::new(INFO.name, map, &PARAMS)?;
        Ok(PongConfig {
            width: r.number(&WIDTH)?,
            height: r.number(&HEIGHT)?,
            paddle_height: r.number(&PADDLE_HEIGHT)?,
            paddle_width: r.number(&PADDLE_WIDTH)?,
            paddle_speed: r.number(&PADDLE_SPEED)?,
            ball_radius: r.number(&BALL_RADIUS)?,
            ball_speed: r.number(&BALL_SPEED)?,
            winning_score: r.integer(&WINNING_SCORE)?.unsigned_abs(),
            max_steps: r.integer(&MAX_STEPS)?.unsigned_abs(),
            render_fps: r.integer(&RENDER_FPS)?.unsigned_abs(),
        })
    }

    /// The effective configuration as JSON, every key present.
    pub(crate) fn to_map(&self) -> Map<String, Value> {
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
pub(crate) struct Pong {
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
    pub(crate) fn new(config: &Map<String, Value>, seed: u64) -> Result<Pong, EnvError> {
        Ok(Pong::with_config(PongConfig::from_map(config)?, seed))
    }

    /// Same as [`Pong::new`] from an already checked configuration.
    pub(crate) fn with_config(config: PongConfig, seed: u64) -> Pong {
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

    /// The observation every player gets, as the package's `float32` array.
    pub(crate) fn observation_f32(&self) -> [f32; 8] {
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

    /// Plays one step with raw actions (`0` up, `1` stay, `2` down; anything else stays).
    pub(crate) fn step_actions(&mut self, actions: [i64; 2]) -> StepResult {
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

/// [`Environment::render`] as a struct, written without building a [`Value`]; fields in key order, as a
/// `Value` map writes them.
#[derive(Serialize)]
struct RenderView<'a> {
    ball: BallView,
    height: f64,
    paddle1: PaddleView,
    paddle2: PaddleView,
    paddle_height: f64,
    paddle_width: f64,
    score: &'a [u64; 2],
    step: u64,
    width: f64,
}

#[derive(Serialize)]
struct BallView {
    radius: f64,
    x: f64,
    y: f64,
}

#[derive(Serialize)]
struct PaddleView {
    y: f64,
}

/// [`Environment::state`] as a struct, fields in key order: its compact JSON is the canonical one.
#[derive(Serialize)]
struct StateView<'a> {
    ball: [f64; 2],
    done: bool,
    paddles: &'a [f64; 2],
    rng: RngView,
    scores: &'a [u64; 2],
    step: u64,
    velocity: [f64; 2],
}

#[derive(Serialize)]
struct RngView {
    inc: String,
    state: String,
}

/// The step info with the values the package's `step()` returns: the ball's position (its `float32` values),
/// the paddles' (`paddle1_y`, `paddle2_y`) and the scores as integers; fields in key order, as a `Value` map
/// writes them.
#[derive(Serialize)]
struct StepInfoView<'a> {
    ball_pos: [f64; 2],
    paddle_positions: &'a [f64; 2],
    scores: &'a [u64; 2],
}

impl Environment for Pong {
    fn info(&self) -> EnvInfo {
        INFO
    }

    fn max_steps(&self) -> u64 {
        self.config.max_steps
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

    fn write_render(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let view = RenderView {
            ball: BallView {
                radius: self.config.ball_radius,
                x: f64::from(self.ball[0]),
                y: f64::from(self.ball[1]),
            },
            height: self.config.height,
            paddle1: PaddleView { y: self.paddles[0] },
            paddle2: PaddleView { y: self.paddles[1] },
            paddle_height: self.config.paddle_height,
            paddle_width: self.config.paddle_width,
            score: &self.scores,
            step: self.steps,
            width: self.config.width,
        };
        serde_json::to_writer(out, &view)
    }

    fn write_state(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let (state, inc) = self.rng.bits().state_hex();
        let view = StateView {
            ball: self.ball.map(f64::from),
            done: self.done,
            paddles: &self.paddles,
            rng: RngView { inc, state },
            scores: &self.scores,
            step: self.steps,
            velocity: self.velocity.map(f64::from),
        };
        serde_json::to_writer(out, &view)
    }

    fn write_step_info(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let view = StepInfoView {
            ball_pos: self.ball.map(f64::from),
            paddle_positions: &self.paddles,
            scores: &self.scores,
        };
        serde_json::to_writer(out, &view)
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
