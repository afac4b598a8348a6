//! ConnectX with the rules and observations of `kaggle-environments`' `connectx`.
//!
//! The board is `rows x columns` cells, row by row from the top, `0` empty, `1` and `2` the players'
//! checkers. Players take turns dropping a checker into a column that is not full (action: the column
//! index); `inarow` in a line (vertical, horizontal or diagonal) wins (`1` / `-1`), a full board is a draw,
//! and `episodeSteps` bounds the game.

use serde_json::{Map, Value, json};

use super::board::{Board, BoardGame, Outcome, Turns};
use super::config::{IntParam, Param, as_integer};
use super::kaggle;
use super::{EnvError, EnvInfo, MoveStyle, shown};

/// Catalog entry.
pub(crate) const INFO: EnvInfo = EnvInfo {
    name: "connectx",
    players: 2,
    move_style: MoveStyle::TurnBased,
    description: "ConnectX of kaggle-environments; action is the column to drop a checker into",
    action: "an integer column 0..columns-1 that is not full; the checker falls to the lowest empty cell; \
             the default action is the leftmost open column",
    observation: "an object {\"board\": rows*columns integers row by row from the top (0 empty, 1 and 2 \
                  the players' checkers), \"mark\": your checker (1 for player 0, 2 for player 1), \"step\": \
                  moves made so far}; player 0 moves first",
};

const EMPTY: u8 = 0;
/// Largest side accepted, to keep boards and observations small.
const MAX_SIDE: i64 = 100;
const ROWS: IntParam = IntParam {
    key: "rows",
    default: 6,
    min: 1,
    max: MAX_SIDE,
    description: "board height in cells",
};
const COLUMNS: IntParam = IntParam {
    key: "columns",
    default: 7,
    description: "board width in cells",
    ..ROWS
};
const INAROW: IntParam = IntParam {
    key: "inarow",
    default: 4,
    description: "checkers in a line (vertical, horizontal or diagonal) that win",
    ..ROWS
};
const EPISODE_STEPS: IntParam = kaggle::episode_steps(1000, 1);

/// Configuration keys, with their defaults.
pub(crate) const PARAMS: [Param; 4] = [
    Param::Int(ROWS),
    Param::Int(COLUMNS),
    Param::Int(INAROW),
    Param::Int(EPISODE_STEPS),
];

/// One game of ConnectX.
pub(crate) type ConnectX = BoardGame<Grid>;

impl ConnectX {
    /// A fresh game; ConnectX uses no randomness, so the seed is ignored.
    pub(crate) fn new(config: &Map<String, Value>, _seed: u64) -> Result<ConnectX, EnvError> {
        let reader = kaggle::reader(INFO.name, config, &PARAMS)?;
        let rows = reader.integer(&ROWS)?.unsigned_abs() as usize;
        let columns = reader.integer(&COLUMNS)?.unsigned_abs() as usize;
        let inarow = reader.integer(&INAROW)?.unsigned_abs() as usize;
        let board = Grid {
            rows,
            columns,
            inarow,
            cells: vec![EMPTY; rows * columns],
        };
        let turns = Turns::new(reader.integer(&EPISODE_STEPS)?.unsigned_abs());
        Ok(BoardGame { board, turns })
    }
}

/// The board of ConnectX: `rows x columns` cells, row by row from the top.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    rows: usize,
    columns: usize,
    inarow: usize,
    cells: Vec<u8>,
}

impl Grid {
    fn at(&self, row: usize, column: usize) -> u8 {
        self.cells[column + row * self.columns]
    }

    fn column(&self, action: &Value) -> Result<usize, String> {
        match as_integer(action).and_then(|n| usize::try_from(n).ok()) {
            Some(c) if c < self.columns && self.at(0, c) == EMPTY => Ok(c),
            Some(c) if c < self.columns => Err(format!("connectx column {c} is full")),
            _ => Err(format!(
                "connectx action must be a column number from 0 to {}, got {}",
                self.columns - 1,
                shown(action)
            )),
        }
    }

    fn first_open_column(&self) -> usize {
        (0..self.columns)
            .find(|&c| self.at(0, c) == EMPTY)
            .unwrap_or(0)
    }

    /// Length of the run of `mark` from (`row`, `column`) in one direction, not counting the start,
    /// capped at `inarow - 1` as kaggle counts.
    fn run(&self, row: usize, column: usize, dr: isize, dc: isize, mark: u8) -> usize {
        let need = self.inarow - 1;
        for i in 1..=need {
            let r = row as isize + dr * i as isize;
            let c = column as isize + dc * i as isize;
            let inside =
                (0..self.rows as isize).contains(&r) && (0..self.columns as isize).contains(&c);
            if !inside || self.at(r as usize, c as usize) != mark {
                return i - 1;
            }
        }
        need
    }

    fn wins(&self, row: usize, column: usize, mark: u8) -> bool {
        let need = self.inarow - 1;
        let line = |dr: isize, dc: isize| {
            self.run(row, column, dr, dc, mark) + self.run(row, column, -dr, -dc, mark)
        };
        self.run(row, column, 1, 0, mark) >= need
            || line(0, 1) >= need
            || line(1, 1) >= need
            || line(-1, 1) >= need
    }
}

impl Board for Grid {
    const INFO: EnvInfo = INFO;

    fn cells(&self) -> &[u8] {
        &self.cells
    }

    fn own_config(&self, config: &mut Map<String, Value>) {
        config.insert("rows".into(), json!(self.rows));
        config.insert("columns".into(), json!(self.columns));
        config.insert("inarow".into(), json!(self.inarow));
    }

    fn legal_move(&self, action: &Value) -> Result<usize, String> {
        self.column(action)
    }

    /// The leftmost open column, so that a substituted move is always legal.
    fn default_move(&self) -> usize {
        self.first_open_column()
    }

    fn play(&mut self, column: usize, mark: u8) -> Outcome {
        // The lowest empty cell of the column; a full board has no open column and ends the game instead.
        let Some(row) = (0..self.rows).rev().find(|&r| self.at(r, column) == EMPTY) else {
            return Outcome::Draw;
        };
        self.cells[column + row * self.columns] = mark;
        if self.wins(row, column, mark) {
            Outcome::Won
        } else if self.cells.iter().all(|&c| c != EMPTY) {
            Outcome::Draw
        } else {
            Outcome::Continue
        }
    }

    fn view(&self, turns: &Turns) -> Value {
        json!({
            "rows": self.rows,
            "columns": self.columns,
            "inarow": self.inarow,
            "board": self.cells,
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

    fn game(config: &str) -> ConnectX {
        let map: Map<String, Value> = serde_json::from_str(config).unwrap_or_default();
        ConnectX::new(&map, 0).unwrap_or_else(|e| panic!("{e}"))
    }

    fn play(g: &mut ConnectX, column: usize) -> StepResult {
        let mut actions = vec![None, None];
        actions[g.turns.active] = Some(json!(column));
        g.step(&actions)
    }

    #[test]
    fn checkers_fall_and_four_in_a_column_wins() {
        let mut g = game("{}");
        for column in [3, 4, 3, 4, 3, 4] {
            assert!(!play(&mut g, column).done);
        }
        let obs = g.observation(0);
        assert_eq!(obs["board"][5 * 7 + 3], json!(1));
        assert_eq!(obs["board"][3 * 7 + 4], json!(2));
        let r = play(&mut g, 3);
        assert_eq!((r.rewards, r.done), (vec![1.0, -1.0], true));
        assert_eq!(g.render()["winner"], json!(0));
    }

    #[test]
    fn diagonals_and_rows_win() {
        // The first player completes the rising diagonal from the bottom of column 0 to column 3.
        let mut g = game("{}");
        let mut last = None;
        for column in [0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3] {
            last = Some(play(&mut g, column));
        }
        assert_eq!(
            last.map(|r| (r.rewards, r.done)),
            Some((vec![1.0, -1.0], true))
        );
        let mut g = game(r#"{"rows": 2, "columns": 5, "inarow": 3}"#);
        let mut last = None;
        // The second player completes the bottom row 1..=3.
        for column in [0, 1, 0, 2, 4, 3] {
            last = Some(play(&mut g, column));
        }
        assert_eq!(
            last.map(|r| (r.rewards, r.done)),
            Some((vec![-1.0, 1.0], true))
        );
    }

    #[test]
    fn full_columns_are_illegal_and_full_boards_draw() {
        let mut g = game(r#"{"rows": 2, "columns": 2, "inarow": 3}"#);
        play(&mut g, 0);
        play(&mut g, 0);
        assert_eq!(
            g.parse_action(0, &json!(0)),
            Err("connectx column 0 is full".into())
        );
        assert_eq!(g.default_action(0), json!(1));
        let err = g.parse_action(0, &json!(2)).err().unwrap_or_default();
        assert_eq!(
            err,
            "connectx action must be a column number from 0 to 1, got 2"
        );
        play(&mut g, 1);
        let r = play(&mut g, 1);
        assert_eq!((r.rewards, r.done), (vec![0.0, 0.0], true));
    }

    #[test]
    fn config_is_checked() {
        let config = game(r#"{"rows": 5, "inarow": 3.0}"#).config();
        assert_eq!(
            Value::Object(config),
            json!({"rows": 5, "columns": 7, "inarow": 3, "episodeSteps": 1000})
        );
        for bad in [
            r#"{"rows": 0}"#,
            r#"{"columns": 101}"#,
            r#"{"inarow": "4"}"#,
            r#"{"board": []}"#,
        ] {
            let map: Map<String, Value> = serde_json::from_str(bad).unwrap_or_default();
            assert!(ConnectX::new(&map, 0).is_err(), "{bad}");
        }
    }
}
