//! tictactoe, connectx and rps replay games recorded from `kaggle-environments` with identical moves,
//! rewards, endings and observations.
//!
//! The fixtures in `tests/fixtures/kaggle/` were written by `record.py` there; its docstring describes the
//! compact step format. Every step goes through the public API the match loop uses (`envs::make`,
//! `to_move`, `parse_action`, `step`, `observation`, `scores`). Where kaggle declared an action invalid,
//! `parse_action` must reject it.

use std::path::Path;

use envs::{Environment, StepResult};
use serde_json::{Map, Value, json};

#[track_caller]
fn games(env: &str) -> Vec<Value> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/kaggle/{env}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(doc["env"], json!(env));
    doc["games"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{}: no games", path.display()))
}

#[track_caller]
fn start(env: &str, game: &Value) -> Box<dyn Environment> {
    let config: Map<String, Value> = game["config"].as_object().cloned().unwrap_or_default();
    envs::make(env, &config, 0).unwrap_or_else(|e| panic!("{env} {config:?}: {e}"))
}

/// Kaggle's rewards, `None` for an agent that was invalid.
fn rewards(row: &[Value], at: usize) -> [Option<f64>; 2] {
    [row[at].as_f64(), row[at + 1].as_f64()]
}

/// Checks a step against kaggle's running rewards in `row` (both recorded, neither invalid): its rewards are
/// what they gained since `previous`, the scores are what they are now. Returns them, the next `previous`.
#[track_caller]
fn check_rewards(
    at: &str,
    row: &[Value],
    previous: [f64; 2],
    result: &StepResult,
    state: &dyn Environment,
) -> [f64; 2] {
    let kaggle = rewards(row, 2).map(|r| r.unwrap_or_else(|| panic!("{at}: null reward")));
    assert_eq!(
        result.rewards,
        vec![kaggle[0] - previous[0], kaggle[1] - previous[1]],
        "{at}: rewards"
    );
    assert_eq!(state.scores(), kaggle.to_vec(), "{at}: scores");
    kaggle
}

/// How the recorded games ended.
#[derive(Debug, Default)]
struct Endings {
    wins: usize,
    draws: usize,
    invalid: usize,
}

impl Endings {
    fn count(&mut self, scores: &[f64], invalid: bool) {
        if invalid {
            self.invalid += 1;
        } else if scores.iter().any(|&s| s != 0.0) {
            self.wins += 1;
        } else {
            self.draws += 1;
        }
    }
}

/// Replays tictactoe or connectx games; returns how they ended.
fn replay_board_games(env: &str) -> Endings {
    let mut endings = Endings::default();
    for (g, game) in games(env).iter().enumerate() {
        let mut state = start(env, game);
        let mut statuses = "AI".to_string();
        let mut previous = [0.0, 0.0];
        let steps = game["steps"].as_array().cloned().unwrap_or_default();
        assert!(!steps.is_empty(), "{env} game {g}: no steps");
        let mut invalid = false;
        for (i, row) in steps.iter().enumerate() {
            let row = row.as_array().cloned().unwrap_or_default();
            let at = format!("{env} game {g} step {i}");
            let active = statuses
                .find('A')
                .unwrap_or_else(|| panic!("{at}: nobody active"));
            assert_eq!(state.to_move(), vec![active], "{at}: player on move");
            let now = row[4].as_str().unwrap_or_default().to_string();
            if now.contains('V') {
                assert!(
                    state.parse_action(active, &row[0]).is_err(),
                    "{at}: {} accepted",
                    row[0]
                );
                assert_eq!(i + 1, steps.len(), "{at}: an invalid action ends the game");
                invalid = true;
                break;
            }
            let action = state
                .parse_action(active, &row[0])
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            let mut actions = vec![None, None];
            actions[active] = Some(action);
            let result = state.step(&actions);

            let kaggle = check_rewards(&at, &row, previous, &result, state.as_ref());
            assert_eq!(result.done, !now.contains('A'), "{at}: done");
            let board: Vec<u32> = row[1]
                .as_str()
                .unwrap_or_default()
                .chars()
                .filter_map(|c| c.to_digit(10))
                .collect();
            for player in 0..2 {
                let want = json!({"board": board, "mark": player + 1, "step": row[5]});
                assert_eq!(
                    state.observation(player),
                    want,
                    "{at}: observation of {player}"
                );
            }
            previous = kaggle;
            statuses = now;
        }
        if !invalid {
            assert!(
                state.to_move().is_empty(),
                "{env} game {g}: still to move after the end"
            );
        }
        endings.count(&state.scores(), invalid);
    }
    endings
}

/// Replays `env`'s recorded games, which must end in each way: a win, a draw and an invalid move.
fn replays_every_ending(env: &str) {
    let endings = replay_board_games(env);
    assert!(
        endings.wins > 0 && endings.draws > 0 && endings.invalid > 0,
        "{env}: {endings:?}"
    );
}

#[test]
fn tictactoe_replays_kaggle_games() {
    replays_every_ending("tictactoe");
}

#[test]
fn connectx_replays_kaggle_games() {
    replays_every_ending("connectx");
}

#[test]
fn rps_replays_kaggle_games() {
    let mut endings = Endings::default();
    let mut tie_rule_applied = false;
    for (g, game) in games("rps").iter().enumerate() {
        let mut state = start("rps", game);
        let mut previous = [0.0, 0.0];
        let mut invalid = false;
        for (i, row) in game["steps"].as_array().into_iter().flatten().enumerate() {
            let row = row.as_array().cloned().unwrap_or_default();
            let at = format!("rps game {g} step {i}");
            assert_eq!(state.to_move(), vec![0, 1], "{at}: both players move");
            let statuses = row[4].as_str().unwrap_or_default().to_string();
            let parsed: Vec<Result<Value, String>> =
                (0..2).map(|p| state.parse_action(p, &row[p])).collect();
            if statuses.contains('V') {
                for (p, status) in statuses.chars().enumerate() {
                    assert_eq!(
                        parsed[p].is_err(),
                        status == 'V',
                        "{at}: action {} of {p}",
                        row[p]
                    );
                }
                invalid = true;
                break;
            }
            let actions: Vec<Option<Value>> = parsed
                .into_iter()
                .map(|a| Some(a.unwrap_or_else(|e| panic!("{at}: {e}"))))
                .collect();
            let result = state.step(&actions);

            let kaggle = check_rewards(&at, &row, previous, &result, state.as_ref());
            assert_eq!(result.done, statuses == "DD", "{at}: done");
            for player in 0..2 {
                let mut want = json!({"step": row[5], "reward": row[6 + player]});
                if !row[8 + player].is_null() {
                    want["lastOpponentAction"] = row[8 + player].clone();
                }
                assert_eq!(
                    state.observation(player),
                    want,
                    "{at}: observation of {player}"
                );
            }
            // Kaggle zeroes a close final total: the own running reward still shows it.
            tie_rule_applied |= result.done && kaggle == [0.0, 0.0] && row[6].as_i64() != Some(0);
            previous = kaggle;
        }
        if !invalid {
            assert!(
                state.to_move().is_empty(),
                "rps game {g}: still to move after the end"
            );
        }
        endings.count(&state.scores(), invalid);
    }
    assert!(
        endings.wins > 0 && endings.draws > 0 && endings.invalid > 0,
        "{endings:?}"
    );
    assert!(
        tie_rule_applied,
        "expected a game decided as a draw by tieRewardThreshold"
    );
}
