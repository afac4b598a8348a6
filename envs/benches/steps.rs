//! Environment step benchmark: nanoseconds per step and full matches per second of every built-in game,
//! played in process by built-in pseudo-random agents (no agent processes, no JSON on a pipe).
//!
//! `cargo bench -p rl-arena-envs --bench steps` prints medians with min and max. `bench/run` calls it with
//! `-- --json --reps N --secs S` and reads one JSON line per environment and repetition.
//!
//! A step is what the match loop asks of the game each step: who moves, every mover's observation, parsing
//! each agent's action, and the step itself. Actions are drawn from a fixed pseudo-random sequence; an
//! illegal draw is replaced by the game's default action, as the match loop does.

use std::hint::black_box;
use std::time::{Duration, Instant};

use envs::Environment;
use serde_json::{Map, Value};

/// A tiny deterministic generator (64-bit LCG); the benchmark must not measure a heavy RNG.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The number of distinct actions to draw from in each game.
fn action_count(name: &str) -> u64 {
    match name {
        "pong" | "rps" => 3,
        "connectx" => 7,
        "tictactoe" => 9,
        _ => 1,
    }
}

/// Plays one whole match and returns its number of steps.
fn play_match(name: &str, seed: u64, rng: &mut Lcg) -> u64 {
    let Ok(mut env) = envs::make(name, &Map::new(), seed) else {
        return 0;
    };
    let players = env.info().players;
    let choices = action_count(name);
    let mut actions: Vec<Option<Value>> = vec![None; players];
    let mut steps = 0;
    loop {
        for a in actions.iter_mut() {
            *a = None;
        }
        for player in env.to_move() {
            black_box(env.observation(player));
            let raw = Value::from(rng.below(choices));
            let action = env
                .parse_action(player, &raw)
                .unwrap_or_else(|_| env.default_action(player));
            actions[player] = Some(action);
        }
        let result = step(env.as_mut(), &actions);
        steps += 1;
        if result {
            return steps;
        }
    }
}

fn step(env: &mut dyn Environment, actions: &[Option<Value>]) -> bool {
    black_box(env.step(actions)).done
}

/// One repetition: whole matches for at least `secs`; returns (ns per step, matches per second, steps).
fn repetition(name: &str, secs: f64) -> (f64, f64, u64) {
    let mut rng = Lcg(0x5eed);
    let budget = Duration::from_secs_f64(secs);
    let started = Instant::now();
    let (mut matches, mut steps) = (0u64, 0u64);
    while started.elapsed() < budget {
        steps += play_match(name, matches + 1, &mut rng);
        matches += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (
        elapsed * 1e9 / steps.max(1) as f64,
        matches as f64 / elapsed,
        steps,
    )
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let reps: usize = flag(&args, "--reps")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let secs: f64 = flag(&args, "--secs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.5);
    let only = flag(&args, "--env");
    for info in envs::catalog() {
        if only.as_deref().is_some_and(|o| o != info.name) {
            continue;
        }
        let _warm_up = repetition(info.name, secs / 5.0);
        let mut ns = Vec::new();
        let mut rate = Vec::new();
        for _ in 0..reps {
            let (ns_per_step, matches_per_sec, steps) = repetition(info.name, secs);
            if json {
                println!(
                    "{{\"env\":\"{}\",\"ns_per_step\":{ns_per_step:.1},\"matches_per_sec\":{matches_per_sec:.2},\"steps\":{steps}}}",
                    info.name
                );
            }
            ns.push(ns_per_step);
            rate.push(matches_per_sec);
        }
        if !json {
            let (lo, hi) = (
                ns.iter().copied().fold(f64::INFINITY, f64::min),
                ns.iter().copied().fold(0.0, f64::max),
            );
            println!(
                "{:<10} {:>9.0} ns/step (min {lo:.0}, max {hi:.0})   {:>9.1} matches/s   ({reps} runs)",
                info.name,
                median(&mut ns),
                median(&mut rate)
            );
        }
    }
}
