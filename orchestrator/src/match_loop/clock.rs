//! The match's time budget, attributed. When the match runs out of `match_ms`, every agent still playing
//! whose clock (all the time it thought: `init`, its moves, and the turn cut by the deadline) shows more than
//! its share of the budget (an equal part per seat) ran out the clock: it is charged a timeout and loses, and
//! the match's message names it. Agents within their share are not charged.

use std::time::Duration;

use proto::outcome::AgentStatus;
use proto::replay::MoveStatus;

use super::seat::Seat;
use crate::report::Reporter;

/// Charges and retires the playing agents over their share of `match_ms`; `step` is the step that was under
/// way (`None` during init). Returns what the match's message says about them (empty when nobody was).
pub(super) async fn attribute(
    seats: &mut [Seat],
    match_ms: u64,
    step: Option<u32>,
    reporter: &Reporter,
) -> String {
    let share = share_of(match_ms, seats.len());
    let mut named = Vec::new();
    for seat in seats.iter_mut().filter(|s| s.playing()) {
        let used = seat.clock();
        if used <= share {
            continue;
        }
        let (used_ms, share_ms) = (used.as_millis(), share.as_millis());
        let message = format!(
            "ran out the match clock: thought for {used_ms} ms, more than its share of {share_ms} ms of the \
             match's {match_ms} ms"
        );
        seat.charge(AgentStatus::Timeout, step, &message, reporter);
        seat.retire(MoveStatus::Timeout).await;
        named.push(format!(
            "{} ran out the clock (thought for {used_ms} ms, its share is {share_ms} ms)",
            seat.agent_id
        ));
    }
    named.join("; ")
}

/// An equal part of the match's budget for each of `seats`.
fn share_of(match_ms: u64, seats: usize) -> Duration {
    let seats = u32::try_from(seats.max(1)).unwrap_or(u32::MAX);
    Duration::from_millis(match_ms) / seats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seat_has_an_equal_share() {
        assert_eq!(share_of(3000, 2), Duration::from_millis(1500));
        assert_eq!(share_of(1000, 3), Duration::from_nanos(333_333_333));
        assert_eq!(share_of(1000, 0), Duration::from_millis(1000));
    }
}
