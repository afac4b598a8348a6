//! Repeated rock-paper-scissors with the rules and observations of `kaggle-environments`' `rps`.
//!
//! Both players show a sign every step (`0` rock, `1` paper, `2` scissors, and with `signs` 4 or 5 also
//! `3` Spock and `4` lizard). A sign beats the other when their difference has the right parity: if the sum
//! of the two signs is even, the higher sign wins, otherwise the lower one. The winner of a round gains one
//! point and the loser loses one. After `episodeSteps - 1` rounds the game ends; a total below
//! `tieRewardThreshold` in absolute value counts as a draw and both scores become `0`.

use serde_json::{Map, Value, json};

use super::config::{IntParam, Param, as_integer};
use super::kaggle;
use super::{EnvError, EnvInfo, Environment, MoveStyle, StepResult, parse_discrete_action};

/// Catalog entry.
pub(crate) const INFO: EnvInfo = EnvInfo {
    name: "rps",
    players: 2,
    move_style: MoveStyle::Simultaneous,
    description: "repeated rock-paper-scissors of kaggle-environments; actions 0 rock, 1 paper, 2 scissors",
    action: "an integer sign: 0 rock, 1 paper, 2 scissors (with signs = 5 also 3 Spock, 4 lizard); the \
             default action is 0",
    observation: "an object {\"step\": rounds played so far, \"reward\": your running total (+1 per round \
                  won, -1 per round lost), \"lastOpponentAction\": the opponent's sign in the previous round, \
                  absent before the first round}",
};

const SIGN_NAMES: [&str; 5] = ["rock", "paper", "scissors", "spock", "lizard"];
const SIGNS: IntParam = IntParam {
    key: "signs",
    default: 3,
    min: 3,
    max: 5,
    description: "number of signs: 3 is rock, paper, scissors; 5 adds Spock and lizard",
};
const EPISODE_STEPS: IntParam = kaggle::episode_steps(1000, 2);
const TIE_THRESHOLD: IntParam = IntParam {
    key: "tieRewardThreshold",
    default: 20,
    min: 1,
    max: 1000,
    description: "a final total below this in absolute value is a draw (both scores 0)",
};

/// Configuration keys, with their defaults.
pub(crate) const PARAMS: [Param; 3] = [
    Param::Int(SIGNS),
    Param::Int(EPISODE_STEPS),
    Param::Int(TIE_THRESHOLD),
];

/// Kaggle's `get_score`: `1` when `left` beats `right`, `-1` when it loses, `0` for the same sign.
pub(crate) fn round_score(left: i64, right: i64) -> i64 {
    let delta = if (left + right) % 2 == 0 {
        right - left
    } else {
        left - right
    };
    delta.signum()
}

/// One game of repeated rock-paper-scissors.
#[derive(Debug, Clone)]
pub(crate) struct Rps {
    signs: usize,
    episode_steps: u64,
    tie_threshold: i64,
    step: u64,
    /// Sum of the first player's round scores (the second player's is its negation).
    total: i64,
    /// The last signs shown, `None` before the first round.
    last: Option<[i64; 2]>,
    /// Kaggle's rewards: the totals, then `0` for both if the game ended as a draw.
    scores: [f64; 2],
    done: bool,
}

impl Rps {
    /// A fresh game; rock-paper-scissors uses no randomness, so the seed is ignored.
    pub(crate) fn new(config: &Map<String, Value>, _seed: u64) -> Result<Rps, EnvError> {
        let reader = kaggle::reader(INFO.name, config, &PARAMS)?;
        Ok(Rps {
            signs: reader.integer(&SIGNS)?.unsigned_abs() as usize,
            episode_steps: reader.integer(&EPISODE_STEPS)?.unsigned_abs(),
            tie_threshold: reader.integer(&TIE_THRESHOLD)?,
            step: 0,
            total: 0,
            last: None,
            scores: [0.0, 0.0],
            done: false,
        })
    }

    fn sign(&self, action: Option<&Value>) -> i64 {
        action
            .and_then(as_integer)
            .filter(|&s| (0..self.signs as i64).contains(&s))
            .unwrap_or(0)
    }
}

impl Environment for Rps {
    fn info(&self) -> EnvInfo {
        INFO
    }

    fn max_steps(&self) -> u64 {
        kaggle::max_steps(self.episode_steps)
    }

    fn config(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("signs".into(), json!(self.signs));
        map.insert("episodeSteps".into(), json!(self.episode_steps));
        map.insert("tieRewardThreshold".into(), json!(self.tie_threshold));
        map
    }

    fn to_move(&self) -> Vec<usize> {
        if self.done { Vec::new() } else { vec![0, 1] }
    }

    /// Kaggle's observation: the step, the player's own total and, after the first round, the opponent's
    /// last sign.
    fn observation(&self, player: usize) -> Value {
        let own = if player == 0 { self.total } else { -self.total };
        let mut obs = json!({"step": self.step, "reward": own});
        if let (Some(last), Value::Object(map)) = (self.last, &mut obs) {
            map.insert("lastOpponentAction".into(), json!(last[1 - player.min(1)]));
        }
        obs
    }

    fn default_action(&self, _player: usize) -> Value {
        json!(0)
    }

    fn parse_action(&self, _player: usize, action: &Value) -> Result<Value, String> {
        parse_discrete_action(INFO.name, action, &SIGN_NAMES[..self.signs])
    }

    fn step(&mut self, actions: &[Option<Value>]) -> StepResult {
        if self.done {
            return StepResult {
                rewards: vec![0.0, 0.0],
                done: true,
            };
        }
        let before = self.scores;
        let signs = [0, 1].map(|p| self.sign(actions.get(p).and_then(|a| a.as_ref())));
        self.total += round_score(signs[0], signs[1]);
        self.last = Some(signs);
        self.step += 1;
        self.scores = [self.total as f64, -self.total as f64];
        if kaggle::episode_over(self.step, self.episode_steps) {
            self.done = true;
            if self.total.abs() < self.tie_threshold {
                self.scores = [0.0, 0.0];
            }
        }
        StepResult {
            rewards: vec![self.scores[0] - before[0], self.scores[1] - before[1]],
            done: self.done,
        }
    }

    fn scores(&self) -> Vec<f64> {
        self.scores.to_vec()
    }

    fn render(&self) -> Value {
        json!({
            "signs": SIGN_NAMES[..self.signs],
            "last": self.last,
            "totals": [self.total, -self.total],
            "scores": self.scores,
            "step": self.step,
        })
    }

    fn state(&self) -> Value {
        json!({
            "step": self.step,
            "total": self.total,
            "last": self.last,
            "scores": self.scores,
            "done": self.done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(config: Value) -> Rps {
        let map = config.as_object().cloned().unwrap_or_default();
        Rps::new(&map, 0).unwrap_or_else(|e| panic!("{e}"))
    }

    fn play(g: &mut Rps, a: i64, b: i64) -> StepResult {
        g.step(&[Some(json!(a)), Some(json!(b))])
    }

    #[test]
    fn round_scores_follow_kaggle() {
        // (left, right, score of left), as kaggle's `get_score` gives them.
        let table = [
            (0, 1, -1),
            (1, 0, 1),
            (0, 2, 1),
            (2, 1, 1),
            (1, 1, 0),
            (3, 4, -1),
            (0, 4, 1),
            (4, 2, -1),
        ];
        for (left, right, want) in table {
            assert_eq!(round_score(left, right), want, "{left} vs {right}");
            assert_eq!(round_score(right, left), -want, "{right} vs {left}");
        }
    }

    #[test]
    fn close_games_are_draws() {
        let mut g = game(json!({"episodeSteps": 4}));
        assert_eq!(g.observation(0), json!({"step": 0, "reward": 0}));
        assert_eq!(play(&mut g, 1, 0).rewards, vec![1.0, -1.0]);
        assert_eq!(
            g.observation(1),
            json!({"step": 1, "reward": -1, "lastOpponentAction": 1})
        );
        assert!(!play(&mut g, 1, 0).done);
        let last = play(&mut g, 1, 0);
        assert!(last.done);
        // Three points are below the threshold of 20: both scores fall back to 0.
        assert_eq!(last.rewards, vec![-2.0, 2.0]);
        assert_eq!(g.scores(), vec![0.0, 0.0]);
        assert!(g.to_move().is_empty());
    }

    #[test]
    fn clear_wins_keep_their_totals() {
        let mut g = game(json!({"episodeSteps": 4, "tieRewardThreshold": 3}));
        for _ in 0..3 {
            play(&mut g, 2, 1);
        }
        assert_eq!(g.scores(), vec![3.0, -3.0]);
    }

    #[test]
    fn unnormalised_actions_still_count() {
        let mut g = game(json!({}));
        assert_eq!(
            g.step(&[Some(json!(1.0)), Some(json!(0))]).rewards,
            vec![1.0, -1.0]
        );
    }

    #[test]
    fn signs_limit_the_actions() {
        let g = game(json!({}));
        assert_eq!(g.parse_action(0, &json!(2.0)), Ok(json!(2)));
        let err = g.parse_action(0, &json!(3)).err().unwrap_or_default();
        assert_eq!(
            err,
            "rps action must be one of 0 (rock), 1 (paper), 2 (scissors), got 3"
        );
        let g = game(json!({"signs": 5}));
        assert_eq!(g.parse_action(0, &json!(4)), Ok(json!(4)));
        for bad in [
            json!({"signs": 6}),
            json!({"episodeSteps": 1}),
            json!({"tieRewardThreshold": 0}),
        ] {
            assert!(
                Rps::new(bad.as_object().unwrap_or(&Map::new()), 0).is_err(),
                "{bad}"
            );
        }
    }
}
