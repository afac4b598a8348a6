//! Thinking windows: while an agent thinks, no other agent of the match runs, and its clock runs only while
//! it does.
//!
//! Every message an agent must answer (`init`, `step`) opens a turn for it. Agents without a turn are
//! stopped (SIGSTOP of their whole process group, every thread). When several agents have a turn at once (the
//! start, every step of a simultaneous game) they think one after the other, in the order given: each is
//! resumed (SIGCONT) for its window and stopped when it answered, so a seat's threads never run while another
//! seat thinks. The order of a simultaneous game's step reverses every step, so the seat that thinks last in
//! one step thinks first in the next and runs on without a signal: a step of two agents costs one stop and one
//! resume.
//!
//! A turn's clock starts when the agent runs with its message sent and stops while it is stopped; what it
//! shows when the answer arrives is the time charged for the move. A turn ends at its budget (`step_ms` plus
//! the bank, or `init_ms`) or at the match deadline, whichever comes first; at the match deadline the time of
//! the turns under way is still added to their seats' clocks, so that the match's time is attributed.

use std::time::{Duration, Instant};

use super::Match;
use super::seat::Seat;
use crate::agent::{Reply, Sent};

/// One agent's turn: the message it must answer and its clock.
pub(super) struct Turn {
    pub(super) player: usize,
    sent: Sent,
    pub(super) budget: Duration,
    /// The step the message belongs to (`None` for `init`), so that late answers are recognised.
    step: Option<u32>,
    /// Time the agent ran on this turn while its clock was stopped and restarted.
    used: Duration,
    /// When the clock last started; `None` while the agent is stopped.
    since: Option<Instant>,
    /// The agent's CPU nanoseconds before the turn, when per-move CPU is logged.
    pub(super) cpu_before: Option<u64>,
}

/// How a turn ended.
pub(super) struct Answered {
    pub(super) player: usize,
    pub(super) budget: Duration,
    pub(super) reply: Reply,
    pub(super) cpu_before: Option<u64>,
}

impl Turn {
    /// A turn for a message just sent to an agent; its clock starts now when the agent is running.
    pub(super) fn new(
        player: usize,
        sent: Sent,
        budget: Duration,
        step: Option<u32>,
        running: bool,
    ) -> Self {
        Self {
            player,
            sent,
            budget,
            step,
            used: Duration::ZERO,
            since: running.then(Instant::now),
            cpu_before: None,
        }
    }

    /// Starts the clock (the agent was resumed).
    fn start(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// Stops the clock (the agent was stopped).
    fn stop(&mut self, now: Instant) {
        if let Some(since) = self.since.take() {
            self.used += now.saturating_duration_since(since);
        }
    }

    /// What the clock shows at `at`.
    fn clock(&self, at: Instant) -> Duration {
        self.used
            + self
                .since
                .map_or(Duration::ZERO, |since| at.saturating_duration_since(since))
    }

    /// When the budget runs out, the clock running from now.
    fn deadline(&self, now: Instant) -> Instant {
        now + self.budget.saturating_sub(self.clock(now))
    }
}

impl Seat {
    /// Lets the agent think on `turn` until it answers, its budget runs out, or `until` comes; `None` in the
    /// last case (the turn goes on later).
    async fn think(&mut self, turn: &mut Turn, until: tokio::time::Instant) -> Option<Reply> {
        let own = tokio::time::Instant::from_std(turn.deadline(Instant::now()));
        let Some(process) = self.process_mut() else {
            return Some(Reply::Gone("was stopped".into()));
        };
        match process
            .advance(&mut turn.sent, turn.step, own.min(until))
            .await
        {
            Some(answer) => {
                let reply = answer.into_reply(|at| turn.clock(at).min(turn.budget));
                turn.stop(Instant::now());
                Some(reply)
            }
            None if own <= until => {
                process.give_up();
                turn.stop(Instant::now());
                Some(Reply::TimedOut)
            }
            None => None,
        }
    }
}

impl Match<'_> {
    /// Lets the agents of `turns` think one after the other in their order, every other agent stopped, and
    /// returns how each turn ended; `None` when the match deadline came first (the time of the turns under
    /// way is added to their seats' clocks).
    pub(super) async fn think(&mut self, mut turns: Vec<Turn>) -> Option<Vec<Answered>> {
        let first = turns.first().map(|t| t.player);
        for seat in &mut self.seats {
            if Some(seat.player) != first {
                seat.pause();
            }
        }
        // The clocks of the turns that wait stop with their agents.
        let now = Instant::now();
        for turn in turns.iter_mut().skip(1) {
            turn.stop(now);
        }
        let count = turns.len();
        let mut answered = Vec::with_capacity(count);
        let mut turns = turns.into_iter();
        while let Some(mut turn) = turns.next() {
            let seat = &mut self.seats[turn.player];
            seat.resume();
            turn.start(Instant::now());
            let Some(reply) = seat.think(&mut turn, self.deadline).await else {
                seat.add_clock(turn.clock(Instant::now()));
                for rest in turns {
                    self.seats[rest.player].add_clock(rest.clock(Instant::now()));
                }
                return None;
            };
            if answered.len() + 1 < count {
                // The last one runs on: it thinks first in the next step.
                seat.pause();
            }
            seat.add_clock(match reply {
                Reply::TimedOut => turn.budget,
                _ => turn.clock(Instant::now()).min(turn.budget),
            });
            answered.push(Answered {
                player: turn.player,
                budget: turn.budget,
                reply,
                cpu_before: turn.cpu_before,
            });
        }
        Some(answered)
    }
}

/// The order in which the players of step `step` think: ascending in odd steps, descending in even ones, so
/// that the last of one step is the first of the next.
pub(super) fn order(mut players: Vec<usize>, step: u32) -> Vec<usize> {
    players.sort_unstable();
    if step % 2 == 0 {
        players.reverse();
    }
    players
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_alternates_so_that_the_last_thinker_goes_on_first() {
        assert_eq!(order(vec![1, 0], 1), [0, 1]);
        assert_eq!(order(vec![0, 1], 2), [1, 0]);
        assert_eq!(order(vec![2, 0, 1], 3), [0, 1, 2]);
        assert_eq!(order(vec![0, 1, 2], 4), [2, 1, 0]);
        assert_eq!(order(vec![1], 7), [1]);
    }
}
