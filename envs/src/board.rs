//! What the two-player board games of `kaggle-environments` (connectx, tictactoe) share: turns, the step
//! count and the outcome, the observation, the state, and the [`Environment`] built on them.
//!
//! A game implements [`Board`]: which move an action names, the move played for an agent that has none,
//! what a move does to the board and how the board is drawn. Everything else is the same for every board
//! game and lives here once, in [`BoardGame`].

use serde_json::{Map, Value, json};

use super::kaggle::episode_over;
use super::{EnvInfo, Environment, StepResult};

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

/// The board of a two-player kaggle game: cells `0` empty, `1` and `2` the players' marks. What a move
/// does is the board's; turns, observation, state and scores are [`BoardGame`]'s.
pub(crate) trait Board: Send {
    /// The catalog entry.
    const INFO: EnvInfo;
    /// The cells, in the order agents observe them.
    fn cells(&self) -> &[u8];
    /// Adds the game's own configuration keys to `config` (`episodeSteps` is added for every game).
    fn own_config(&self, config: &mut Map<String, Value>);
    /// The move `action` names when it is legal now; `Err` says why it is not.
    fn legal_move(&self, action: &Value) -> Result<usize, String>;
    /// The move played for an agent that has none; legal while the game runs.
    fn default_move(&self) -> usize;
    /// Plays `mark` at `position` and says how the turn ended.
    fn play(&mut self, position: usize, mark: u8) -> Outcome;
    /// Everything a viewer needs to draw the current board ([`Environment::render`]).
    fn view(&self, turns: &Turns) -> Value;
}

/// One game on a [`Board`]: the board and whose turn it is.
#[derive(Debug, Clone)]
pub(crate) struct BoardGame<B> {
    pub(crate) board: B,
    pub(crate) turns: Turns,
}

impl<B: Board> Environment for BoardGame<B> {
    fn info(&self) -> EnvInfo {
        B::INFO
    }

    fn max_steps(&self) -> u64 {
        super::kaggle::max_steps(self.turns.episode_steps)
    }

    fn config(&self) -> Map<String, Value> {
        let mut map = Map::new();
        self.board.own_config(&mut map);
        map.insert("episodeSteps".into(), json!(self.turns.episode_steps));
        map
    }

    fn to_move(&self) -> Vec<usize> {
        self.turns.to_move()
    }

    /// Kaggle's observation: the shared board and step, and the player's own mark (1 or 2).
    fn observation(&self, player: usize) -> Value {
        json!({"board": self.board.cells(), "mark": player + 1, "step": self.turns.step})
    }

    fn default_action(&self, _player: usize) -> Value {
        json!(self.board.default_move())
    }

    fn parse_action(&self, _player: usize, action: &Value) -> Result<Value, String> {
        self.board.legal_move(action).map(|m| json!(m))
    }

    fn step(&mut self, actions: &[Option<Value>]) -> StepResult {
        if self.turns.done {
            return StepResult {
                rewards: vec![0.0, 0.0],
                done: true,
            };
        }
        let active = self.turns.active;
        let position = actions
            .get(active)
            .and_then(|a| a.as_ref())
            .and_then(|a| self.board.legal_move(a).ok())
            .unwrap_or_else(|| self.board.default_move());
        let outcome = self.board.play(position, active as u8 + 1);
        self.turns.finish(outcome)
    }

    fn scores(&self) -> Vec<f64> {
        self.turns.rewards.to_vec()
    }

    fn render(&self) -> Value {
        self.board.view(&self.turns)
    }

    /// The scores and the seats on move next.
    fn write_step_info(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(
            out,
            &json!({"scores": self.turns.rewards, "to_move": self.turns.to_move()}),
        )
    }

    fn state(&self) -> Value {
        json!({
            "board": self.board.cells(),
            "active": self.turns.active,
            "step": self.turns.step,
            "rewards": self.turns.rewards,
            "done": self.turns.done,
        })
    }
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
}
