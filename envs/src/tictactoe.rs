//! Tic-tac-toe with the rules and observations of `kaggle-environments`' `tictactoe`.
//!
//! The board is nine cells, row by row, `0` empty, `1` the first player (X), `2` the second (O). Players take
//! turns placing their mark on an empty cell (action `0..=8`); three in a row wins (`1` / `-1`), a full
//! board is a draw, and `episodeSteps` (default 10) bounds the game as in every kaggle game.

use serde_json::{Map, Value, json};

use super::board::{Board, BoardGame, Outcome, Turns};
use super::config::{IntParam, Param, as_integer};
use super::kaggle;
use super::{EnvError, EnvInfo, MoveStyle, shown};

/// Catalog entry.
pub(crate) const INFO: EnvInfo = EnvInfo {
    name: "tictactoe",
    players: 2,
    move_style: MoveStyle::TurnBased,
    description: "tic-tac-toe of kaggle-environments; action is the cell 0..=8, row by row",
    action: "an integer cell 0..=8 that is empty, row by row from the top left; the default action is the \
             first empty cell",
    observation: "an object {\"board\": 9 integers row by row (0 empty, 1 X of player 0, 2 O of player 1), \
                  \"mark\": your mark (1 or 2), \"step\": moves made so far}; player 0 moves first",
};

const CELLS: usize = 9;
const EPISODE_STEPS: IntParam = kaggle::episode_steps(10, 1);

/// Configuration keys, with their defaults.
pub(crate) const PARAMS: [Param; 1] = [Param::Int(EPISODE_STEPS)];
const EMPTY: u8 = 0;

/// Lines that win, as cell indices.
const LINES: [[usize; 3]; 8] = [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
    [0, 3, 6],
    [1, 4, 7],
    [2, 5, 8],
    [0, 4, 8],
    [2, 4, 6],
];

/// One game of tic-tac-toe.
pub(crate) type TicTacToe = BoardGame<Cells>;

impl TicTacToe {
    /// A fresh game; tic-tac-toe uses no randomness, so the seed is ignored.
    pub(crate) fn new(config: &Map<String, Value>, _seed: u64) -> Result<TicTacToe, EnvError> {
        let reader = kaggle::reader(INFO.name, config, &PARAMS)?;
        Ok(BoardGame {
            board: Cells([EMPTY; CELLS]),
            turns: Turns::new(reader.integer(&EPISODE_STEPS)?.unsigned_abs()),
        })
    }
}

/// The board of tic-tac-toe: nine cells, row by row.
#[derive(Debug, Clone)]
pub(crate) struct Cells([u8; CELLS]);

impl Cells {
    fn cell(&self, action: &Value) -> Result<usize, String> {
        match as_integer(action).and_then(|n| usize::try_from(n).ok()) {
            Some(cell) if cell < CELLS && self.0[cell] == EMPTY => Ok(cell),
            Some(cell) if cell < CELLS => Err(format!("tictactoe cell {cell} is already taken")),
            _ => Err(format!(
                "tictactoe action must be a cell number from 0 to 8, got {}",
                shown(action)
            )),
        }
    }

    fn first_empty(&self) -> usize {
        self.0.iter().position(|&c| c == EMPTY).unwrap_or(0)
    }
}

impl Board for Cells {
    const INFO: EnvInfo = INFO;

    fn cells(&self) -> &[u8] {
        &self.0
    }

    fn own_config(&self, _config: &mut Map<String, Value>) {}

    fn legal_move(&self, action: &Value) -> Result<usize, String> {
        self.cell(action)
    }

    /// The first empty cell, so that a substituted move is always legal.
    fn default_move(&self) -> usize {
        self.first_empty()
    }

    fn play(&mut self, cell: usize, mark: u8) -> Outcome {
        self.0[cell] = mark;
        if LINES
            .iter()
            .any(|line| line.iter().all(|&c| self.0[c] == mark))
        {
            Outcome::Won
        } else if self.0.iter().all(|&c| c != EMPTY) {
            Outcome::Draw
        } else {
            Outcome::Continue
        }
    }

    fn view(&self, turns: &Turns) -> Value {
        json!({
            "board": self.0,
            "marks": ["", "X", "O"],
            "to_move": turns.to_move(),
            "winner": turns.winner(),
            "step": turns.step,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environment, StepResult};

    fn game() -> TicTacToe {
        match TicTacToe::new(&Map::new(), 0) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    fn play(g: &mut TicTacToe, cell: usize) -> StepResult {
        let mut actions = vec![None, None];
        actions[g.turns.active] = Some(json!(cell));
        g.step(&actions)
    }

    #[test]
    fn first_player_wins_a_row() {
        let mut g = game();
        for cell in [0, 3, 1, 4] {
            assert!(!play(&mut g, cell).done);
        }
        assert_eq!(g.to_move(), vec![0]);
        let r = play(&mut g, 2);
        assert_eq!((r.rewards, r.done), (vec![1.0, -1.0], true));
        assert_eq!(g.scores(), vec![1.0, -1.0]);
        assert_eq!(
            g.observation(1),
            json!({"board": [1, 1, 1, 2, 2, 0, 0, 0, 0], "mark": 2, "step": 5})
        );
    }

    #[test]
    fn full_board_is_a_draw() {
        let mut g = game();
        let mut last = None;
        for cell in [0, 1, 2, 4, 3, 5, 7, 6, 8] {
            last = Some(play(&mut g, cell));
        }
        let last = last.map(|r| (r.rewards, r.done));
        assert_eq!(last, Some((vec![0.0, 0.0], true)));
        assert_eq!(g.scores(), vec![0.0, 0.0]);
        assert!(g.to_move().is_empty());
    }

    #[test]
    fn taken_and_out_of_range_cells_are_illegal() {
        let mut g = game();
        play(&mut g, 4);
        assert_eq!(
            g.parse_action(1, &json!(4.0)),
            Err("tictactoe cell 4 is already taken".into())
        );
        assert_eq!(g.parse_action(1, &json!(8.0)), Ok(json!(8)));
        for bad in [json!(9), json!(-1), json!("4"), json!(0.5)] {
            let err = g.parse_action(1, &bad).err().unwrap_or_default();
            assert!(
                err.starts_with("tictactoe action must be a cell number from 0 to 8"),
                "{err}"
            );
        }
        assert_eq!(g.default_action(1), json!(0));
    }

    #[test]
    fn short_episodes_end_early() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"episodeSteps": 3}"#).unwrap_or_default();
        let mut g = TicTacToe::new(&map, 0).unwrap_or_else(|e| panic!("{e}"));
        assert!(!play(&mut g, 0).done);
        assert!(play(&mut g, 1).done);
        assert_eq!(g.scores(), vec![0.0, 0.0]);
        let map: Map<String, Value> = serde_json::from_str(r#"{"size": 3}"#).unwrap_or_default();
        assert!(TicTacToe::new(&map, 0).is_err());
    }
}
