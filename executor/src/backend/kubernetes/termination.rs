//! The fallback result of a match: the outcome the orchestrator left in its termination message when no
//! report arrived.

use proto::outcome::{MatchOutcome, MatchStatus};

use super::job::TERMINATION_MESSAGE_MAX;
use crate::info::Entrants;

/// Length from which an invalid termination message was probably cut by Kubernetes.
const CUT_SUSPECT_LEN: usize = 4000;

/// The outcome in the orchestrator's termination message, or an error outcome that says why there is none.
/// Kubernetes cuts termination messages at 4096 bytes, so a long outcome may arrive truncated.
pub(super) fn from_termination_message(
    entrants: &Entrants<'_>,
    message: Option<&str>,
) -> MatchOutcome {
    let Some(message) = message else {
        return entrants.failed(
            MatchStatus::Error,
            "the orchestrator finished but its result was lost: no report arrived and it left no termination \
             message",
        );
    };
    match serde_json::from_str::<MatchOutcome>(message) {
        Ok(outcome) if outcome.match_id == entrants.match_id => outcome,
        Ok(outcome) => entrants.failed(
            MatchStatus::Error,
            format!(
                "the orchestrator's termination message is the outcome of another match ({:?})",
                outcome.match_id
            ),
        ),
        Err(e) => entrants.failed(
            MatchStatus::Error,
            format!(
                "the orchestrator finished but its result was lost: no report arrived and its termination \
                 message ({} bytes{}) is not a valid outcome: {e}",
                message.len(),
                if message.len() >= CUT_SUSPECT_LEN {
                    format!(", probably cut at the {TERMINATION_MESSAGE_MAX}-byte limit")
                } else {
                    String::new()
                }
            ),
        ),
    }
}
