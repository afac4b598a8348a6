//! Unit tests of Pong's rules, configuration and actions.

use super::*;
use serde_json::json;

fn pong(config: Value, seed: u64) -> Pong {
    let map = config.as_object().cloned().unwrap_or_default();
    match Pong::new(&map, seed) {
        Ok(p) => p,
        Err(e) => panic!("config {config} rejected: {e}"),
    }
}

fn config_error(config: Value) -> String {
    let map = config.as_object().cloned().unwrap_or_default();
    match Pong::new(&map, 0) {
        Ok(_) => format!("config {config} accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn starts_centred_with_the_configured_speed() {
    let p = pong(json!({}), 7);
    let obs = p.observation_f32();
    assert_eq!(&obs[..2], &[0.5, 0.5]);
    assert_eq!(&obs[4..], &[0.5, 0.5, 0.0, 0.0]);
    let speed = f64::from(obs[2]).hypot(f64::from(obs[3]));
    assert!((speed - 0.02).abs() < 1e-6, "speed {speed}");
    assert!(
        obs[3].abs() <= obs[2].abs() + 1e-7,
        "angle beyond 45 degrees: {obs:?}"
    );
}

#[test]
fn same_seed_same_game_and_seeds_differ() {
    let play = |seed| {
        let mut p = pong(json!({}), seed);
        for i in 0..300 {
            p.step_actions([i % 3, (i / 3) % 3]);
        }
        p.state()
    };
    assert_eq!(play(3), play(3));
    assert_ne!(play(3), play(4));
}

#[test]
fn paddles_move_and_clamp() {
    let mut p = pong(json!({"paddle_speed": 0.3}), 1);
    p.step_actions([ACTION_UP, ACTION_DOWN]);
    assert_eq!(p.paddles, [0.2, 0.8]);
    p.step_actions([ACTION_UP, ACTION_DOWN]);
    assert_eq!(p.paddles, [0.0, 1.0]);
    p.step_actions([ACTION_STAY, ACTION_UP]);
    assert_eq!(p.paddles, [0.0, 0.7]);
}

#[test]
fn missing_ball_gives_the_point_to_the_other_player() {
    // Paddles parked at the top never return a ball served at most 45 degrees from the centre line.
    let mut p = pong(json!({"paddle_speed": 1.0, "winning_score": 3}), 11);
    let mut totals = [0.0, 0.0];
    let mut last = StepResult {
        rewards: vec![],
        done: false,
    };
    while !last.done {
        last = p.step_actions([ACTION_UP, ACTION_UP]);
        totals[0] += last.rewards[0];
        totals[1] += last.rewards[1];
        assert_eq!(last.rewards[0], -last.rewards[1]);
    }
    let scores = Environment::scores(&p);
    assert!(scores.contains(&3.0), "scores {scores:?}");
    assert_eq!(totals[0], scores[0] - scores[1]);
    assert!(p.steps < 1000);
    // A finished game does not move any more.
    let before = p.state();
    assert!(p.step_actions([ACTION_DOWN, ACTION_DOWN]).done);
    assert_eq!(p.state(), before);
}

#[test]
fn tracking_paddles_return_the_ball() {
    let mut p = pong(json!({"max_steps": 500}), 5);
    let mut returns = 0;
    let mut done = false;
    while !done {
        let obs = p.observation_f32();
        let track = |paddle: f32| {
            if obs[1] < paddle - 0.02 {
                ACTION_UP
            } else if obs[1] > paddle + 0.02 {
                ACTION_DOWN
            } else {
                ACTION_STAY
            }
        };
        let before = p.velocity[0];
        done = p.step_actions([track(obs[4]), track(obs[5])]).done;
        if before.signum() != p.velocity[0].signum() && p.ball != [0.5, 0.5] {
            returns += 1;
        }
    }
    assert!(returns >= 5, "only {returns} returns");
    assert_eq!(p.steps, 500);
}

#[test]
fn unnormalised_actions_still_move() {
    let mut p = pong(json!({}), 1);
    p.step(&[Some(json!(0.0)), Some(json!(2.0))]);
    assert_eq!(p.paddles, [0.45, 0.55]);
}

#[test]
fn max_steps_ends_the_game() {
    let mut p = pong(json!({"max_steps": 3}), 0);
    assert!(!p.step_actions([1, 1]).done);
    assert!(!p.step_actions([1, 1]).done);
    assert!(p.step_actions([1, 1]).done);
}

#[test]
fn config_defaults_and_overrides() {
    let p = pong(json!({"winning_score": 5.0, "ball_speed": 0.03}), 0);
    let c = Environment::config(&p);
    assert_eq!(c.get("winning_score"), Some(&json!(5)));
    assert_eq!(c.get("ball_speed"), Some(&json!(0.03)));
    assert_eq!(c.get("max_steps"), Some(&json!(1000)));
    assert_eq!(c.get("paddle_height"), Some(&json!(0.2)));
    assert_eq!(c.len(), PARAMS.len());
    // The effective configuration is itself a valid configuration giving the same game.
    let again = Pong::new(&c, 0).map(|p| p.state());
    assert_eq!(again, Ok(p.state()));
}

#[test]
fn bad_configs_name_the_key() {
    let table = [
        (json!({"speed": 1}), "unknown key \"speed\""),
        (
            json!({"paddle_speed": "fast"}),
            "paddle_speed must be a number in (0, 1]",
        ),
        (
            json!({"paddle_height": 0}),
            "paddle_height must be a number in (0, 1]",
        ),
        (
            json!({"ball_radius": -0.1}),
            "ball_radius must be a number in [0, 0.5)",
        ),
        (
            json!({"width": null}),
            "width must be a number greater than 0",
        ),
        (
            json!({"winning_score": 2.5}),
            "winning_score must be an integer from 1",
        ),
        (
            json!({"max_steps": 0}),
            "max_steps must be an integer from 1",
        ),
        (
            json!({"max_steps": true}),
            "max_steps must be an integer from 1",
        ),
    ];
    for (config, want) in table {
        let got = config_error(config.clone());
        assert!(got.starts_with("pong config: "), "{config}: {got}");
        assert!(got.contains(want), "{config}: {got}");
    }
}

#[test]
fn actions_are_checked_and_normalised() {
    let p = pong(json!({}), 0);
    for (action, want) in [
        (json!(0), 0),
        (json!(2), 2),
        (json!(2.0), 2),
        (json!(1.0), 1),
    ] {
        assert_eq!(p.parse_action(0, &action), Ok(json!(want)), "{action}");
    }
    for action in [
        json!(3),
        json!(-1),
        json!(1.5),
        json!("1"),
        json!(null),
        json!([1]),
        json!(true),
    ] {
        let err = p.parse_action(1, &action).err().unwrap_or_default();
        assert_eq!(
            err,
            format!("pong action must be one of 0 (up), 1 (stay), 2 (down), got {action}")
        );
    }
    assert_eq!(p.default_action(0), json!(1));
}

#[test]
fn observation_render_and_state_agree() {
    let mut p = pong(json!({}), 9);
    p.step(&[Some(json!(0)), None]);
    let obs = p.observation(0);
    assert_eq!(obs, p.observation(1));
    let obs: Vec<f64> = obs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(obs.len(), 8);
    let render = p.render();
    assert_eq!(render["ball"]["x"].as_f64(), Some(obs[0]));
    assert_eq!(render["paddle1"]["y"].as_f64(), Some(0.45));
    assert_eq!(render["paddle2"]["y"].as_f64(), Some(0.5));
    assert_eq!(render["score"], json!([0, 0]));
    assert_eq!(render["paddle_height"], json!(0.2));
    let state = p.state();
    assert_eq!(state["step"], json!(1));
    assert_eq!(state["velocity"][0].as_f64(), Some(obs[2]));
    assert_eq!(p.to_move(), vec![0, 1]);
}

/// Single steps from crafted states where NumPy's `float32` comparisons and `float64` comparisons of the
/// same rule disagree, recorded from the package by `tests/fixtures/pong/record.py`.
#[test]
fn boundary_comparisons_follow_numpy_float32_promotion() {
    let text = include_str!("../../tests/fixtures/pong/boundary/cases.json");
    let cases: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
    assert!(cases.len() >= 6, "boundary cases missing");
    let word =
        |hex: &str, i: usize| u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).unwrap_or(u32::MAX);
    let mut returned = 0;
    for case in &cases {
        let why = case["why"].as_str().unwrap_or_default();
        let seed = case["seed"].as_u64().unwrap_or_default();
        let ball = case["ball"].as_str().unwrap_or_default();
        let want = case["observation"].as_str().unwrap_or_default();
        let mut p = Pong::with_config(PongConfig::default(), seed);
        p.ball = [f32::from_bits(word(ball, 0)), f32::from_bits(word(ball, 1))];
        p.velocity = [0.0, 0.0];
        for (slot, repr) in p
            .paddles
            .iter_mut()
            .zip(case["paddles"].as_array().into_iter().flatten())
        {
            *slot = repr
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(f64::NAN);
        }
        let result = p.step_actions([ACTION_STAY, ACTION_STAY]);
        let rewards: Vec<f64> = case["rewards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect();
        assert_eq!(result.rewards, rewards, "{why} {case}");
        let got: Vec<u32> = p.observation_f32().iter().map(|v| v.to_bits()).collect();
        let want: Vec<u32> = (0..8).map(|i| word(want, i)).collect();
        assert_eq!(got, want, "{why} {case}");
        returned += usize::from(case["returned"] == json!(true));
    }
    assert!(
        returned > 0 && returned < cases.len(),
        "cases must cover both outcomes"
    );
}

#[test]
fn written_render_and_state_are_the_values_encodings() {
    // A non-default field and random play, so that points, serves and odd floats all pass through.
    let mut p = pong(json!({"width": 640.5, "paddle_speed": 0.13}), 11);
    let mut draws = Generator::default_rng(3);
    let mut action = || (draws.random() * 3.0) as i64;
    for _ in 0..3000 {
        let mut render = Vec::new();
        p.write_render(&mut render).unwrap();
        assert_eq!(render, serde_json::to_vec(&p.render()).unwrap());
        let mut state = Vec::new();
        p.write_state(&mut state).unwrap();
        let canonical = crate::canonical::canonical_json(&p.state()).unwrap();
        assert_eq!(String::from_utf8(state).unwrap(), canonical);
        if p.step_actions([action(), action()]).done {
            break;
        }
    }
    assert!(p.scores.iter().sum::<u64>() > 0, "points were played");
}
