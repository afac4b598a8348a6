//! The wire protocol spoken with agents: newline-delimited JSON objects over stdin/stdout.
//!
//! Orchestrator to agent: `init` once, `step` whenever the agent is on move, `end` at the end. Agent to
//! orchestrator: `{"type":"ready"}` after `init` (or `{"type":"error","message":..}` when it cannot start),
//! and `{"action": ...}` after each `step`. An answer may echo `"step"` so that a late answer to an earlier
//! step is recognised; it may carry `"error"` instead of an action to say why it has none.

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::{Map, Value, json};

use proto::spec::Limits;

/// The `init` message.
pub(crate) fn init_message(
    player: usize,
    num_players: usize,
    env: &str,
    config: &Map<String, Value>,
    limits: &Limits,
) -> Value {
    json!({
        "type": "init",
        "player": player,
        "num_players": num_players,
        "env": env,
        "config": config,
        "limits": {
            "init_ms": limits.init_ms,
            "step_ms": limits.step_ms,
            "bank_ms": limits.bank_ms,
        },
    })
}

/// The `step` message.
pub(crate) fn step_message(step: u32, observation: Value, bank_ms: u64) -> Value {
    json!({ "type": "step", "step": step, "observation": observation, "bank_ms": bank_ms })
}

/// The `end` message.
pub(crate) fn end_message(result: Value) -> Value {
    json!({ "type": "end", "result": result })
}

/// What an agent answered to `init`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ready {
    Ready,
    /// The agent says it cannot play, and why.
    Failed(String),
}

/// Reads the answer to `init`; `Err` says what was wrong with the line.
pub(crate) fn parse_ready(line: &[u8]) -> Result<Ready, String> {
    let object = parse_object(line)?;
    match object.get("type").and_then(Value::as_str) {
        Some("ready") => Ok(Ready::Ready),
        Some("error") => Ok(Ready::Failed(
            object
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_string(),
        )),
        _ => Err(format!(
            "expected {{\"type\":\"ready\"}}, got {}",
            excerpt(line)
        )),
    }
}

/// The step an answer says it belongs to, when it says so.
pub(crate) fn answer_step(line: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(line).ok()?;
    value.get("step")?.as_u64()
}

/// Reads the action out of an answer; `Err` says why there is none.
pub(crate) fn parse_answer(line: &[u8]) -> Result<Value, String> {
    let mut object = parse_object(line)?;
    if let Some(action) = object.remove("action") {
        return Ok(action);
    }
    match object.get("error").and_then(Value::as_str) {
        Some(error) => Err(format!(
            "agent reported an error instead of an action: {error}"
        )),
        None => Err(format!(
            "answer has no \"action\" field: {}; answer with {{\"action\": ...}}",
            excerpt(line)
        )),
    }
}

fn parse_object(line: &[u8]) -> Result<Map<String, Value>, String> {
    let text =
        std::str::from_utf8(line).map_err(|_| format!("answer is not UTF-8: {}", excerpt(line)))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(format!("answer is not a JSON object: {}", excerpt(line))),
        Err(_) => Err(format!("answer is not JSON: {}", excerpt(line))),
    }
}

/// The start of a line, quoted, for error messages.
pub(crate) fn excerpt(line: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(line);
    let mut cut: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        cut.push_str("...");
    }
    format!("{cut:?}")
}

/// Something read from an agent's stdout.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A complete line (without its newline) and when its newline arrived.
    Line(Vec<u8>, Instant),
    /// A line grew past the limit; the rest of it is skipped.
    TooLong(Instant),
    /// Stdout closed (the agent exited or closed it) or could not be read.
    Closed(Option<String>),
}

/// Splits an agent's stdout into lines of at most `max_line` bytes, chunk by chunk as it is read.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    /// The line being read, without its newline.
    line: Vec<u8>,
    /// Set when the line being read grew past the limit: the rest of it is dropped.
    skipping: bool,
    max_line: usize,
}

impl LineSplitter {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            skipping: false,
            max_line,
        }
    }

    /// Splits `chunk`, read at `at`, and appends the lines it completes (and overlong lines) to `out`.
    pub(crate) fn push(&mut self, mut chunk: &[u8], at: Instant, out: &mut VecDeque<Incoming>) {
        while !chunk.is_empty() {
            let (part, complete) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], true),
                None => (chunk, false),
            };
            if !self.skipping {
                if self.line.len() + part.len() > self.max_line {
                    self.skipping = true;
                    self.line.clear();
                    out.push_back(Incoming::TooLong(at));
                } else {
                    self.line.extend_from_slice(part);
                }
            }
            chunk = &chunk[part.len() + usize::from(complete)..];
            if complete {
                if !self.skipping {
                    if self.line.last() == Some(&b'\r') {
                        self.line.pop();
                    }
                    out.push_back(Incoming::Line(std::mem::take(&mut self.line), at));
                }
                self.skipping = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked() {
        let cases: &[(&str, Result<Value, &str>)] = &[
            (r#"{"action": 2}"#, Ok(json!(2))),
            (r#"{"action": [1, 0], "step": 3}"#, Ok(json!([1, 0]))),
            (r#"{"action": null}"#, Ok(Value::Null)),
            ("garbage", Err("answer is not JSON")),
            ("[1, 2]", Err("answer is not a JSON object")),
            (r#"{"move": 1}"#, Err("answer has no \"action\" field")),
            (
                r#"{"error": "ValueError: boom"}"#,
                Err("agent reported an error instead of an action: ValueError: boom"),
            ),
        ];
        for (line, expected) in cases {
            let got = parse_answer(line.as_bytes());
            match (expected, got) {
                (Ok(want), Ok(got)) => assert_eq!(&got, want, "{line}"),
                (Err(want), Err(got)) => assert!(
                    got.contains(want),
                    "{line}: {got:?} should contain {want:?}"
                ),
                (want, got) => panic!("{line}: expected {want:?}, got {got:?}"),
            }
        }
        assert!(parse_answer(b"\xff\xfe").unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn ready_and_failures_are_told_apart() {
        assert_eq!(parse_ready(br#"{"type":"ready"}"#), Ok(Ready::Ready));
        assert_eq!(
            parse_ready(br#"{"type":"error","message":"no get_action"}"#),
            Ok(Ready::Failed("no get_action".into()))
        );
        assert!(parse_ready(b"hello").unwrap_err().contains("not JSON"));
        assert!(
            parse_ready(br#"{"action":1}"#)
                .unwrap_err()
                .contains("expected {\"type\":\"ready\"}")
        );
    }

    #[test]
    fn answer_step_is_read_when_present() {
        assert_eq!(answer_step(br#"{"action":1,"step":7}"#), Some(7));
        assert_eq!(answer_step(br#"{"action":1}"#), None);
        assert_eq!(answer_step(b"junk"), None);
    }

    #[test]
    fn excerpts_are_short() {
        let long = "x".repeat(200);
        let got = excerpt(long.as_bytes());
        assert!(got.len() < 100 && got.ends_with("...\""), "{got}");
    }

    #[test]
    fn lines_are_split_and_long_lines_skipped_across_chunks() {
        let input: &[u8] = b"{\"a\":1}\r\n0123456789abcdef\nok\n\npartial";
        // The same bytes in one chunk, and cut at every possible place.
        for cut in 0..=input.len() {
            let mut splitter = LineSplitter::new(8);
            let mut out = VecDeque::new();
            let now = Instant::now();
            splitter.push(&input[..cut], now, &mut out);
            splitter.push(&input[cut..], now, &mut out);
            let got: Vec<String> = out
                .into_iter()
                .map(|event| match event {
                    Incoming::Line(line, _) => String::from_utf8(line).unwrap(),
                    Incoming::TooLong(_) => "<too long>".into(),
                    Incoming::Closed(err) => format!("<closed {err:?}>"),
                })
                .collect();
            assert_eq!(got, ["{\"a\":1}", "<too long>", "ok", ""], "cut at {cut}");
        }
    }
}
