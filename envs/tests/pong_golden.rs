//! Pong replays the golden trajectories recorded from the `rl-arena` 0.1.2 Python package bit for bit.
//!
//! The fixtures in `tests/fixtures/pong/` were written by `record.py` there. Every step's observation is
//! compared through the same public API the match loop uses (`envs::make`, `parse_action`, `step`,
//! `observation`), as the exact `float32` bit patterns the package produced.

use std::path::{Path, PathBuf};

use envs::Environment;
use serde_json::{Map, Value, json};

/// One recorded game.
struct Fixture {
    name: String,
    seed: u64,
    config: Map<String, Value>,
    hits: u64,
    points: u64,
    initial: [u32; 8],
    final_paddles: [f64; 2],
    steps: Vec<Step>,
}

struct Step {
    actions: [i64; 2],
    rewards: [f64; 2],
    done: bool,
    observation: [u32; 8],
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pong")
}

#[track_caller]
fn hex_words(text: &str) -> [u32; 8] {
    assert_eq!(text.len(), 64, "observation hex {text:?}");
    let mut words = [0u32; 8];
    for (i, word) in words.iter_mut().enumerate() {
        let digits = &text[i * 8..i * 8 + 8];
        *word = u32::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("hex {digits:?}: {e}"));
    }
    words
}

#[track_caller]
fn load(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let field = |key: &str| {
        doc.get(key)
            .unwrap_or_else(|| panic!("{}: no {key}", path.display()))
    };
    let number = |key: &str| {
        field(key)
            .as_u64()
            .unwrap_or_else(|| panic!("{key} is not a u64"))
    };
    let paddles: Vec<f64> = field("final_paddles")
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            p.as_str()
                .and_then(|s| s.parse().ok())
                .expect("paddle repr")
        })
        .collect();
    let steps = field("steps")
        .as_array()
        .expect("steps array")
        .iter()
        .map(|row| {
            let int = |i: usize| row[i].as_i64().unwrap_or_else(|| panic!("step row {row}"));
            Step {
                actions: [int(0), int(1)],
                rewards: [int(2) as f64, int(3) as f64],
                done: int(4) == 1,
                observation: hex_words(row[5].as_str().expect("observation hex")),
            }
        })
        .collect();
    Fixture {
        name: field("name").as_str().expect("name").to_string(),
        seed: number("seed"),
        config: field("config").as_object().cloned().expect("config object"),
        hits: number("hits"),
        points: number("points"),
        initial: hex_words(field("initial").as_str().expect("initial hex")),
        final_paddles: [paddles[0], paddles[1]],
        steps,
    }
}

fn fixtures() -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixture directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// The observation as `float32` bit patterns, checking that every number is exactly a `float32`.
#[track_caller]
fn observation_bits(env: &dyn Environment, player: usize) -> [u32; 8] {
    let obs = env.observation(player);
    let values = obs
        .as_array()
        .unwrap_or_else(|| panic!("observation {obs} is not an array"));
    assert_eq!(values.len(), 8, "observation {obs}");
    let mut bits = [0u32; 8];
    for (slot, value) in bits.iter_mut().zip(values) {
        let wide = value
            .as_f64()
            .unwrap_or_else(|| panic!("observation {obs} has a non-number"));
        let narrow = wide as f32;
        assert_eq!(
            f64::from(narrow),
            wide,
            "observation value {wide} is not a float32"
        );
        *slot = narrow.to_bits();
    }
    bits
}

fn describe(bits: &[u32; 8]) -> String {
    let values: Vec<String> = bits
        .iter()
        .map(|&b| format!("{:?}", f32::from_bits(b)))
        .collect();
    format!("[{}]", values.join(", "))
}

#[test]
fn pong_replays_the_package_trajectories_bit_for_bit() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 4,
        "expected at least 4 fixtures in {}",
        fixture_dir().display()
    );
    let mut long_runs = 0;
    let mut default_runs = 0;
    for fx in &fixtures {
        let name = &fx.name;
        let mut env =
            envs::make("pong", &fx.config, fx.seed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            observation_bits(env.as_ref(), 0),
            fx.initial,
            "{name}: initial observation"
        );

        let (mut hits, mut points) = (0u64, 0u64);
        for (i, step) in fx.steps.iter().enumerate() {
            let before = observation_bits(env.as_ref(), 0);
            let actions: Vec<Option<Value>> = (0..2)
                .map(|p| {
                    let action = env.parse_action(p, &json!(step.actions[p]));
                    Some(action.unwrap_or_else(|e| panic!("{name} step {i}: {e}")))
                })
                .collect();
            let result = env.step(&actions);
            assert_eq!(result.rewards, step.rewards, "{name} step {i}: rewards");
            assert_eq!(result.done, step.done, "{name} step {i}: done");
            for player in 0..2 {
                let got = observation_bits(env.as_ref(), player);
                assert!(
                    got == step.observation,
                    "{name} step {i} player {player}: observation\n got  {}\n want {}",
                    describe(&got),
                    describe(&step.observation)
                );
            }
            // A return flips the ball's horizontal direction without a point being scored.
            let vx = |bits: &[u32; 8]| f32::from_bits(bits[2]);
            if step.rewards != [0.0, 0.0] {
                points += 1;
            } else if (vx(&before) < 0.0) != (vx(&step.observation) < 0.0) {
                hits += 1;
            }
        }

        let last = fx
            .steps
            .last()
            .unwrap_or_else(|| panic!("{name}: no steps"));
        assert!(last.done, "{name}: the recording must end with the game");
        assert_eq!(
            fx.steps.iter().filter(|s| s.done).count(),
            1,
            "{name}: done before the end"
        );
        assert!(
            hits > 0 && points > 0,
            "{name}: needs paddle returns and points, got {hits} and {points}"
        );
        assert_eq!(
            (hits, points),
            (fx.hits, fx.points),
            "{name}: returns and points"
        );

        let render = env.render();
        let paddles = [
            render["paddle1"]["y"].as_f64(),
            render["paddle2"]["y"].as_f64(),
        ];
        assert_eq!(
            paddles,
            fx.final_paddles.map(Some),
            "{name}: final paddle positions (float64)"
        );
        let scores = env.scores();
        assert_eq!(scores.len(), 2);
        assert_eq!(
            scores.iter().sum::<f64>(),
            points as f64,
            "{name}: scores add up to the points"
        );

        if fx.config.is_empty() {
            default_runs += 1;
        } else if fx.steps.len() >= 1000 {
            long_runs += 1;
        }
    }
    assert!(
        default_runs >= 1,
        "expected a run with the default configuration"
    );
    assert!(
        long_runs >= 3,
        "expected at least 3 runs of 1000 steps or more"
    );
}
