//! Judging replies: what an agent's answer to `init` or to `step` counts as, and the fault it costs.
//!
//! Every fault is the agent's: a malformed, illegal or overlong answer, a timeout, or an agent that is gone.
//! The seat charges it ([`super::seat::Seat::charge`]); a move that is not a legal action leaves the
//! environment's default action in place.

use std::time::Duration;

use proto::outcome::AgentStatus;
use proto::replay::MoveStatus;
use proto::spec::Limits;
use serde_json::Value;

use crate::agent::Reply;
use crate::agent::protocol::{self, Ready};

/// A fault charged to an agent.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fault {
    pub(super) status: AgentStatus,
    pub(super) message: String,
}

impl Fault {
    fn new(status: AgentStatus, message: String) -> Self {
        Self { status, message }
    }
}

/// Judges the answer to `init`: `None` when the agent is ready, else the fault that keeps it out.
pub(super) fn ready(reply: Reply, limits: &Limits) -> Option<Fault> {
    let fault = match reply {
        Reply::Line { line, .. } => match protocol::parse_ready(&line) {
            Ok(Ready::Ready) => return None,
            Ok(Ready::Failed(message)) => {
                Fault::new(AgentStatus::Error, format!("agent cannot start: {message}"))
            }
            Err(message) => Fault::new(AgentStatus::Error, message),
        },
        Reply::TooLong { .. } => Fault::new(
            AgentStatus::Error,
            format!(
                "answer to init is longer than {} bytes",
                limits.max_line_bytes
            ),
        ),
        Reply::TimedOut => Fault::new(
            AgentStatus::Timeout,
            format!("no {{\"type\":\"ready\"}} within {} ms", limits.init_ms),
        ),
        Reply::Gone(reason) => Fault::new(
            AgentStatus::Crashed,
            format!("agent {reason} before it was ready"),
        ),
    };
    Some(fault)
}

/// A judged answer to `step`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Move {
    /// How the move went, as the replay records it; `Crashed` means the agent is gone.
    pub(super) status: MoveStatus,
    /// The legal, normalised action; `None` leaves the default action.
    pub(super) action: Option<Value>,
    /// The time charged for the move: the whole budget for a timeout, nothing for an agent that is gone.
    pub(super) elapsed: Duration,
    pub(super) fault: Option<Fault>,
}

impl Move {
    fn faulty(status: MoveStatus, elapsed: Duration, kind: AgentStatus, message: String) -> Self {
        Self {
            status,
            action: None,
            elapsed,
            fault: Some(Fault::new(kind, message)),
        }
    }
}

/// Judges the answer to step `step` given within `budget`; `legal` checks and normalises the action (the
/// environment's [`parse_action`](envs::Environment::parse_action) for the player).
pub(super) fn answer(
    reply: Reply,
    step: u32,
    budget: Duration,
    max_line_bytes: usize,
    legal: impl FnOnce(&Value) -> Result<Value, String>,
) -> Move {
    match reply {
        Reply::Line { line, elapsed } => {
            let parsed = protocol::parse_answer(&line, step)
                .and_then(|raw| legal(&raw).map_err(|why| format!("invalid action: {why}")));
            match parsed {
                Ok(action) => Move {
                    status: MoveStatus::Ok,
                    action: Some(action),
                    elapsed,
                    fault: None,
                },
                Err(message) => Move::faulty(
                    MoveStatus::InvalidAction,
                    elapsed,
                    AgentStatus::InvalidAction,
                    message,
                ),
            }
        }
        Reply::TooLong { elapsed } => Move::faulty(
            MoveStatus::InvalidAction,
            elapsed,
            AgentStatus::InvalidAction,
            format!("answer longer than {max_line_bytes} bytes"),
        ),
        Reply::TimedOut => Move::faulty(
            MoveStatus::Timeout,
            budget,
            AgentStatus::Timeout,
            format!("timed out after {} ms", budget.as_millis()),
        ),
        Reply::Gone(reason) => Move::faulty(
            MoveStatus::Crashed,
            Duration::ZERO,
            AgentStatus::Crashed,
            format!("agent {reason}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(text: &str) -> Reply {
        Reply::Line {
            line: text.as_bytes().to_vec(),
            elapsed: Duration::from_millis(7),
        }
    }

    #[test]
    fn init_answers() {
        let limits = Limits {
            init_ms: 900,
            max_line_bytes: 64,
            ..Limits::default()
        };
        let cases: Vec<(Reply, Option<(AgentStatus, &str)>)> = vec![
            (line(r#"{"type":"ready"}"#), None),
            (
                line(r#"{"type":"error","message":"no model"}"#),
                Some((AgentStatus::Error, "agent cannot start: no model")),
            ),
            (
                line("hello"),
                Some((AgentStatus::Error, "answer is not JSON: \"hello\"")),
            ),
            (
                Reply::TooLong {
                    elapsed: Duration::ZERO,
                },
                Some((AgentStatus::Error, "answer to init is longer than 64 bytes")),
            ),
            (
                Reply::TimedOut,
                Some((
                    AgentStatus::Timeout,
                    "no {\"type\":\"ready\"} within 900 ms",
                )),
            ),
            (
                Reply::Gone("exited with status 3".into()),
                Some((
                    AgentStatus::Crashed,
                    "agent exited with status 3 before it was ready",
                )),
            ),
        ];
        for (reply, expected) in cases {
            let shown = format!("{reply:?}");
            let expected = expected.map(|(status, message)| Fault::new(status, message.into()));
            assert_eq!(ready(reply, &limits), expected, "{shown}");
        }
    }

    /// What judging one reply to `step` should give.
    struct Expected {
        status: MoveStatus,
        action: Option<Value>,
        elapsed_ms: u64,
        /// The fault's kind and part of its message; `None` for no fault.
        fault: Option<(AgentStatus, &'static str)>,
    }

    #[test]
    fn step_answers() {
        let budget = Duration::from_millis(250);
        let legal = |action: &Value| match action.as_f64() {
            Some(n) if [0.0, 1.0, 2.0].contains(&n) => Ok(json!(n as i64)),
            _ => Err(format!("{action} is no move")),
        };
        let expect = |status, action, elapsed_ms, fault| Expected {
            status,
            action,
            elapsed_ms,
            fault,
        };
        let too_long = Reply::TooLong {
            elapsed: Duration::from_millis(3),
        };
        let cases = vec![
            (
                line(r#"{"action": 2}"#),
                expect(MoveStatus::Ok, Some(json!(2)), 7, None),
            ),
            (
                line(r#"{"action": 5}"#),
                expect(
                    MoveStatus::InvalidAction,
                    None,
                    7,
                    Some((AgentStatus::InvalidAction, "invalid action: 5 is no move")),
                ),
            ),
            (
                line(r#"{"move": 1}"#),
                expect(
                    MoveStatus::InvalidAction,
                    None,
                    7,
                    Some((AgentStatus::InvalidAction, "answer has no \"action\" field")),
                ),
            ),
            (
                line(r#"{"action": 2, "error": "boom"}"#),
                expect(
                    MoveStatus::InvalidAction,
                    None,
                    7,
                    Some((AgentStatus::InvalidAction, "both an action and an error")),
                ),
            ),
            (
                line(r#"{"action": 1e-400}"#),
                expect(
                    MoveStatus::InvalidAction,
                    None,
                    7,
                    Some((AgentStatus::InvalidAction, "does not read as written")),
                ),
            ),
            (
                line(r#"{"action": 2.0}"#),
                expect(MoveStatus::Ok, Some(json!(2)), 7, None),
            ),
            (
                too_long,
                expect(
                    MoveStatus::InvalidAction,
                    None,
                    3,
                    Some((AgentStatus::InvalidAction, "answer longer than 64 bytes")),
                ),
            ),
            (
                Reply::TimedOut,
                expect(
                    MoveStatus::Timeout,
                    None,
                    250,
                    Some((AgentStatus::Timeout, "timed out after 250 ms")),
                ),
            ),
            (
                Reply::Gone("was killed by signal 9".into()),
                expect(
                    MoveStatus::Crashed,
                    None,
                    0,
                    Some((AgentStatus::Crashed, "agent was killed by signal 9")),
                ),
            ),
        ];
        for (reply, want) in cases {
            let shown = format!("{reply:?}");
            let judged = answer(reply, 3, budget, 64, legal);
            assert_eq!(judged.status, want.status, "{shown}");
            assert_eq!(judged.action, want.action, "{shown}");
            assert_eq!(
                judged.elapsed,
                Duration::from_millis(want.elapsed_ms),
                "{shown}"
            );
            match (want.fault, judged.fault) {
                (None, got) => assert_eq!(got, None, "{shown}"),
                (Some((kind, part)), Some(got)) => {
                    assert_eq!(got.status, kind, "{shown}");
                    assert!(
                        got.message.contains(part),
                        "{shown}: {:?} should contain {part:?}",
                        got.message
                    );
                }
                (Some(_), None) => panic!("{shown}: no fault"),
            }
        }
    }
}
