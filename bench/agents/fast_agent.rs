//! A native protocol agent that answers at once: the agent side of the orchestrator overhead benchmarks.
//!
//! Built by `bench/run` with `rustc -O` (std only). It answers `init` with `ready` and every `step` with a
//! legal action found without search: `1` (stay) in pong, `0` in rps, the first open column in connectx, the
//! first empty cell in tictactoe. It exits on `end` or when stdin closes.

use std::io::{BufRead, BufWriter, Write};

/// The numbers of a JSON array that starts right after `key` in `line` (`"board":[0,1,...]`).
fn numbers_after<'a>(line: &'a str, key: &str) -> impl Iterator<Item = i64> + 'a {
    let body = line
        .find(key)
        .map(|at| &line[at + key.len()..])
        .and_then(|rest| rest.split(']').next())
        .unwrap_or("");
    body.split(',').filter_map(|n| n.trim().parse().ok())
}

/// The integer that follows `key` in `line` (`"columns":7`).
fn integer_after(line: &str, key: &str) -> Option<i64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut env = String::new();
    let mut columns = 7usize;
    let mut line = String::new();
    let mut input = stdin.lock();
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let answer = if line.contains("\"type\":\"step\"") {
            let action = match env.as_str() {
                "connectx" => numbers_after(&line, "\"board\":[")
                    .take(columns)
                    .position(|cell| cell == 0)
                    .unwrap_or(0),
                "tictactoe" => numbers_after(&line, "\"board\":[")
                    .position(|cell| cell == 0)
                    .unwrap_or(0),
                "rps" => 0,
                _ => 1,
            };
            format!("{{\"action\":{action}}}\n")
        } else if line.contains("\"type\":\"init\"") {
            if let Some(at) = line.find("\"env\":\"") {
                let rest = &line[at + 7..];
                env = rest[..rest.find('"').unwrap_or(0)].to_string();
            }
            columns = integer_after(&line, "\"columns\":")
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(7);
            "{\"type\":\"ready\"}\n".to_string()
        } else if line.contains("\"type\":\"end\"") {
            return;
        } else {
            continue;
        };
        if out.write_all(answer.as_bytes()).is_err() || out.flush().is_err() {
            return;
        }
    }
}
