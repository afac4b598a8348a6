//! The wire protocol spoken with agents: newline-delimited JSON objects over stdin/stdout.
//!
//! Orchestrator to agent: `init` once, `step` whenever the agent is on move, `end` at the end. Agent to
//! orchestrator: `{"type":"ready"}` after `init` (or `{"type":"error","message":..}` when it cannot start),
//! and `{"action": ...}` after each `step`. An answer may echo `"step"` so that a late answer to an earlier
//! step is recognised; it may carry `"error"` instead of an action to say why it has none.
//!
//! Answers to `step` are read strictly ([`parse_answer`]): an object with `action` and optionally `step`
//! (the current step), or `error` instead of `action`, and nothing else; no field twice; every number of
//! the action exactly the number it reads as (`2.0` is 2; `1e-400`, which would read as 0, is no number).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;
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
    if let Some(plain) = PlainAnswer::read(line) {
        return plain.step;
    }
    let value: Value = serde_json::from_slice(line).ok()?;
    value.get("step")?.as_u64()
}

/// The answer nearly every agent gives, `{"action": <integer>}` or `{"action": <integer>, "step": <integer>}`
/// (either order, any JSON whitespace), read without building a JSON value: the step loop reads two answers
/// a step. Anything else is left to the full reading, which gives the same result for these lines.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PlainAnswer {
    action: i64,
    step: Option<u64>,
}

impl PlainAnswer {
    fn read(line: &[u8]) -> Option<Self> {
        let mut cursor = Cursor { line, at: 0 };
        cursor.byte(b'{')?;
        let mut action = None;
        let mut step = None;
        loop {
            match cursor.key()? {
                b"action" if action.is_none() => action = Some(cursor.integer()?),
                b"step" if step.is_none() => step = Some(u64::try_from(cursor.integer()?).ok()?),
                _ => return None,
            }
            match cursor.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        cursor.end()?;
        Some(Self {
            action: action?,
            step,
        })
    }
}

/// A position in a line being read by [`PlainAnswer::read`].
struct Cursor<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The next byte after JSON whitespace.
    fn next(&mut self) -> Option<u8> {
        while let Some(&b) = self.line.get(self.at) {
            self.at += 1;
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
        }
        None
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// A key without escapes and the colon after it.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.byte(b'"')?;
        let start = self.at;
        let len = self.line[start..].iter().position(|&b| b == b'"')?;
        let key = &self.line[start..start + len];
        if key.contains(&b'\\') {
            return None;
        }
        self.at = start + len + 1;
        self.byte(b':')?;
        Some(key)
    }

    /// An integer literal of at most 18 digits (no fraction or exponent: those take the full reading).
    fn integer(&mut self) -> Option<i64> {
        let first = self.next()?;
        let start = self.at - 1;
        let digits = self.line[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += digits;
        let text = &self.line[start..self.at];
        let body = text.strip_prefix(b"-").unwrap_or(text);
        let plain = (first == b'-' || first.is_ascii_digit())
            && !body.is_empty()
            && body.len() <= 18
            && (body == b"0" || body[0] != b'0')
            // `-0` reads as a float: the full reading keeps it so.
            && text != b"-0"
            && !matches!(self.line.get(self.at), Some(b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        std::str::from_utf8(text).ok()?.parse().ok()
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.next().is_none().then_some(())
    }
}

/// The fields of a JSON object in their order, duplicates kept, values as their text.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// Reads the action out of an answer to step `step`; `Err` says why the answer is not exactly an action.
pub(crate) fn parse_answer(line: &[u8], step: u32) -> Result<Value, String> {
    if let Some(plain) = PlainAnswer::read(line) {
        return match plain.step {
            Some(label) if label != u64::from(step) => Err(format!(
                "answer is labelled \"step\": {label}, the step is {step}: {}",
                excerpt(line)
            )),
            _ => Ok(Value::from(plain.action)),
        };
    }
    let text =
        std::str::from_utf8(line).map_err(|_| format!("answer is not UTF-8: {}", excerpt(line)))?;
    let Fields(fields) = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            format!("answer is not a JSON object: {}", excerpt(line))
        } else {
            format!("answer is not JSON: {}", excerpt(line))
        }
    })?;
    let mut action = None;
    let mut error = None;
    let mut others = Vec::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(format!("answer has {name:?} twice: {}", excerpt(line)));
        }
        match name.as_ref() {
            "action" => action = Some(*value),
            "error" => error = Some(*value),
            "step" if value.get() == step.to_string() => {}
            "step" => {
                return Err(format!(
                    "answer is labelled \"step\": {}, the step is {step}: {}",
                    value.get(),
                    excerpt(line)
                ));
            }
            other => others.push(format!("{other:?}")),
        }
    }
    match (action, error) {
        (Some(_), Some(_)) => Err(format!(
            "answer has both an action and an error: {}",
            excerpt(line)
        )),
        (Some(_), None) if !others.is_empty() => Err(format!(
            "answer has fields other than \"action\" and \"step\" ({}): {}",
            others.join(", "),
            excerpt(line)
        )),
        (Some(action), None) => {
            exact_numbers(action.get())?;
            serde_json::from_str(action.get()).map_err(|e| {
                format!(
                    "action is not JSON ({}): {}",
                    without_position(&e),
                    excerpt(line)
                )
            })
        }
        (None, Some(error)) => {
            let error: Value = serde_json::from_str(error.get()).unwrap_or(Value::Null);
            let error = error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_string);
            Err(format!(
                "agent reported an error instead of an action: {error}"
            ))
        }
        (None, None) => Err(format!(
            "answer has no \"action\" field: {}; answer with {{\"action\": ...}}",
            excerpt(line)
        )),
    }
}

/// A `serde_json` error without its line and column (answers are one line).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Checks that every number in the JSON text `json` reads as exactly the number written: `2`, `-0`, `2.0`,
/// `2e0` and `0.5` do; `1e-400` (it would read as 0), `1e400` (no finite number) and `2.00000000000000001`
/// (it would read as 2) do not.
fn exact_numbers(json: &str) -> Result<(), String> {
    let bytes = json.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip the string, escapes included.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let literal = &json[start..i];
                if !reads_exactly(literal) {
                    return Err(format!(
                        "action number {literal} does not read as written (the nearest number is not exactly it)"
                    ));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Whether the number literal `literal` reads (as a JSON number) as exactly the number it writes.
fn reads_exactly(literal: &str) -> bool {
    // Short integers always do.
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    if digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let read = match serde_json::from_str::<Value>(literal) {
        Ok(Value::Number(n)) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.is_finite() => format!("{f:e}"),
            _ => return false,
        },
        _ => return false,
    };
    match (decimal(literal), decimal(&read)) {
        (Some(written), Some(read)) => written == read,
        _ => false,
    }
}

/// A number literal as `(negative, significant digits, exponent)`: the value is `0.digits × 10^exponent`;
/// zero has no digits and no sign. `None` when `literal` is not a number.
fn decimal(literal: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all: String = format!("{int}{frac}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let significant = all
        .trim_start_matches('0')
        .trim_end_matches('0')
        .to_string();
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    let point = i64::try_from(int.len()).ok()? - i64::try_from(leading).ok()?;
    Some((negative, significant, exponent.checked_add(point)?))
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
            (r#"{"step": 3, "action": 1}"#, Ok(json!(1))),
            (r#"{"action": null}"#, Ok(Value::Null)),
            (r#"{"action": 2.0}"#, Ok(json!(2.0))),
            (r#"{"action": 2e0}"#, Ok(json!(2.0))),
            (r#"{"action": -0}"#, Ok(json!(-0.0))),
            (r#"{"action": 0.5}"#, Ok(json!(0.5))),
            (r#"{"action": 18446744073709551615}"#, Ok(json!(u64::MAX))),
            (r#"{"action": "1e-400"}"#, Ok(json!("1e-400"))),
            ("garbage", Err("answer is not JSON")),
            ("[1, 2]", Err("answer is not a JSON object")),
            (r#"{"move": 1}"#, Err("answer has no \"action\" field")),
            (
                r#"{"error": "ValueError: boom"}"#,
                Err("agent reported an error instead of an action: ValueError: boom"),
            ),
            (
                r#"{"action": 2, "error": "boom"}"#,
                Err("answer has both an action and an error"),
            ),
            (
                r#"{"action": 2, "comment": "x"}"#,
                Err("answer has fields other than \"action\" and \"step\" (\"comment\")"),
            ),
            (
                r#"{"action": 2, "action": 1}"#,
                Err("answer has \"action\" twice"),
            ),
            (
                r#"{"action": 2, "step": 4}"#,
                Err("answer is labelled \"step\": 4, the step is 3"),
            ),
            (
                r#"{"action": 2, "step": 3.0}"#,
                Err("answer is labelled \"step\": 3.0, the step is 3"),
            ),
            (
                r#"{"action": 1e-400}"#,
                Err("action number 1e-400 does not read as written"),
            ),
            (
                r#"{"action": 1e400}"#,
                Err("action number 1e400 does not read as written"),
            ),
            (
                r#"{"action": 2.00000000000000001}"#,
                Err("action number 2.00000000000000001 does not read as written"),
            ),
            (
                r#"{"action": [1, 1e-400]}"#,
                Err("action number 1e-400 does not read as written"),
            ),
            (
                r#"{"action": 99999999999999999999}"#,
                Err("action number 99999999999999999999 does not read as written"),
            ),
        ];
        for (line, expected) in cases {
            let got = parse_answer(line.as_bytes(), 3);
            match (expected, got) {
                (Ok(want), Ok(got)) => assert_eq!(&got, want, "{line}"),
                (Err(want), Err(got)) => assert!(
                    got.contains(want),
                    "{line}: {got:?} should contain {want:?}"
                ),
                (want, got) => panic!("{line}: expected {want:?}, got {got:?}"),
            }
        }
        assert!(
            parse_answer(b"\xff\xfe", 1)
                .unwrap_err()
                .contains("not UTF-8")
        );
    }

    /// The quick reading of plain answers gives what the full reading gives, and leaves everything else to it.
    #[test]
    fn plain_answers_read_quickly_and_the_same() {
        let plain = |action, step| Some(PlainAnswer { action, step });
        let cases: &[(&str, Option<PlainAnswer>)] = &[
            (r#"{"action":1}"#, plain(1, None)),
            (r#"{"action":2,"step":12}"#, plain(2, Some(12))),
            (r#" { "step" : 3 , "action" : -4 } "#, plain(-4, Some(3))),
            (r#"{"action":0}"#, plain(0, None)),
            (r#"{"action":-0}"#, None),
            (r#"{"action":01}"#, None),
            (r#"{"action":2.0}"#, None),
            (r#"{"action":2e0}"#, None),
            (r#"{"action":1234567890123456789}"#, None),
            (r#"{"action":1,"action":2}"#, None),
            (r#"{"action":1,"error":"x"}"#, None),
            (r#"{"action":1,"step":-1}"#, None),
            (r#"{"act\u0069on":1}"#, None),
            (r#"{"action":1}x"#, None),
            (r#"{"action":"1"}"#, None),
            (r#"{"action":1,}"#, None),
            (r#"{}"#, None),
            ("", None),
        ];
        for (line, want) in cases {
            let got = PlainAnswer::read(line.as_bytes());
            assert_eq!(&got, want, "{line}");
            if let Some(plain) = got {
                let step = u32::try_from(plain.step.unwrap_or(5)).unwrap();
                let full = serde_json::from_str::<Value>(line).unwrap();
                assert_eq!(
                    parse_answer(line.as_bytes(), step),
                    Ok(full["action"].clone()),
                    "{line}"
                );
                assert_eq!(
                    answer_step(line.as_bytes()),
                    full.get("step").and_then(Value::as_u64)
                );
            }
        }
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
