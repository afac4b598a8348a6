//! Rules shared by the games of `kaggle-environments`: configuration, episode length, turns and rewards.
//!
//! Kaggle counts steps from 0; after step `n` the shared observation field `step` is `n`, and a game still
//! running when `step >= episodeSteps - 1` ends as it stands. Rewards there are the running outcome of each
//! agent (`1` won, `-1` lost, `0` draw or still playing); here the reward of a step is the change of that
//! outcome, so the rewards of a game add up to its final scores.
//!
//! An invalid action makes the agent lose at once in kaggle. Here [`super::Environment::parse_action`]
//! rejects it and the match loop applies its own policy: a limit of zero invalid actions gives kaggle's
//! outcome.

use serde_json::{Map, Value};

use super::config::{ConfigReader, IntParam, Param};
use super::{EnvError, StepResult};

/// Kaggle's timing settings; the orchestrator's match limits play their part.
const TIMING_KEYS: [&str; 4] = ["actTimeout", "agentTimeout", "runTimeout", "timeout"];

/// A configuration reader for a kaggle game; its timing keys get a hint instead of a bare "unknown key".
pub(crate) fn reader<'a>(
    env: &'static str,
    map: &'a Map<String, Value>,
    params: &[Param],
) -> Result<ConfigReader<'a>, EnvError> {
    if let Some(key) = map.keys().find(|k| TIMING_KEYS.contains(&k.as_str())) {
        return Err(EnvError::Config {
            env,
            message: format!(
                "{key} is a kaggle timing setting; set the match's time limits instead"
            ),
        });
    }
    ConfigReader::new(env, map, params)
}

/// `episodeSteps`: the game lasts at most `episodeSteps - 1` steps.
pub(crate) const fn episode_steps(default: i64, min: i64) -> IntParam {
    IntParam {
        key: "episodeSteps",
        default,
        min,
        max: 1_000_000,
        description: "kaggle's episode length: the game ends after at most episodeSteps - 1 steps",
    }
}

/// Whether kaggle's episode limit ends the game after `step` steps.
pub(crate) fn episode_over(step: u64, episode_steps: u64) -> bool {
    step >= episode_steps.saturating_sub(1)
}

/// How a turn ended for the player who moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Won,
    Draw,
    Continue,
}

/// Turn, step and outcome bookkeeping of a two-player, turn-based kaggle game (first player moves first).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Turns {
    /// Seat of the player on move.
    pub(crate) active: usize,
    pub(crate) step: u64,
    pub(crate) episode_steps: u64,
    /// Kaggle's rewards: the outcome so far.
    pub(crate) rewards: [f64; 2],
    pub(crate) done: bool,
}

impl Turns {
    pub(crate) fn new(episode_steps: u64) -> Turns {
        Turns {
            active: 0,
            step: 0,
            episode_steps,
            rewards: [0.0, 0.0],
            done: false,
        }
    }

    /// The players on move: the active one, nobody once the game is over.
    pub(crate) fn to_move(&self) -> Vec<usize> {
        if self.done {
            Vec::new()
        } else {
            vec![self.active]
        }
    }

    /// Records the active player's move and passes the turn; returns the step's reward changes.
    pub(crate) fn finish(&mut self, outcome: Outcome) -> StepResult {
        let before = self.rewards;
        self.step += 1;
        match outcome {
            Outcome::Won => {
                self.rewards[self.active] = 1.0;
                self.rewards[1 - self.active] = -1.0;
                self.done = true;
            }
            Outcome::Draw => self.done = true,
            Outcome::Continue => self.active = 1 - self.active,
        }
        self.done |= episode_over(self.step, self.episode_steps);
        StepResult {
            rewards: vec![self.rewards[0] - before[0], self.rewards[1] - before[1]],
            done: self.done,
        }
    }

    /// The player who won, if any.
    pub(crate) fn winner(&self) -> Option<usize> {
        self.rewards.iter().position(|&r| r > 0.0)
    }
}

/// Kaggle's observation of a board game: the shared board and step, and the player's own mark (1 or 2).
pub(crate) fn board_observation(board: &[u8], player: usize, step: u64) -> Value {
    serde_json::json!({"board": board, "mark": player + 1, "step": step})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_alternate_and_wins_end_the_game() {
        let mut t = Turns::new(10);
        assert_eq!(t.to_move(), vec![0]);
        assert_eq!(t.finish(Outcome::Continue).rewards, vec![0.0, 0.0]);
        assert_eq!(t.to_move(), vec![1]);
        let r = t.finish(Outcome::Won);
        assert_eq!((r.rewards, r.done), (vec![-1.0, 1.0], true));
        assert_eq!(t.winner(), Some(1));
        assert!(t.to_move().is_empty());
    }

    #[test]
    fn episode_limit_is_steps_minus_one() {
        let mut t = Turns::new(3);
        assert!(!t.finish(Outcome::Continue).done);
        let r = t.finish(Outcome::Continue);
        assert!(r.done);
        assert_eq!(t.winner(), None);
        assert!(episode_over(1, 1) && episode_over(0, 1) && !episode_over(1, 3));
    }

    #[test]
    fn timing_keys_get_a_hint() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"actTimeout": 1}"#).unwrap_or_default();
        let err = reader("rps", &map, &[Param::Int(episode_steps(10, 1))])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "rps config: actTimeout is a kaggle timing setting; set the match's time limits instead"
            )
        );
    }
}
