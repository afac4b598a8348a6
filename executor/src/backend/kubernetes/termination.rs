//! The fallback result of a match: the outcome the orchestrator left in its termination message when no
//! report arrived.

use proto::outcome::{MatchOutcome, MatchStatus};

use crate::info::Entrants;

/// The outcome in the orchestrator's termination message, or an error outcome that says why there is none.
/// The kubelet keeps `room` bytes of it (the pod's 12 KiB split across its containers), so an outcome longer
/// than the orchestrator was told to write arrives cut.
pub(super) fn from_termination_message(
    entrants: &Entrants<'_>,
    message: Option<&str>,
    room: usize,
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
                if message.len() >= room.saturating_sub(room / 32) {
                    format!(", probably cut at the pod's {room}-byte share of termination messages")
                } else {
                    String::new()
                }
            ),
        ),
    }
}
