//! Thinking windows: agents compute only on their turn, and past the first millisecond of a step no agent
//! runs while another thinks. Each agent's clock runs only while it thinks.
//!
//! Every message an agent must answer (`init`, `step`) opens a turn for it. Agents without a turn are
//! stopped (SIGSTOP of their whole process group, every thread). When several agents have a turn at once (the
//! start, every step of a simultaneous game) they first think together, for at most [`TOGETHER`]; agents that
//! answer at once, as most do on most steps, never wait for each other and cost no signal. Past that, every
//! agent of the match is stopped and those still thinking go on one after the other in the turns' order, each
//! alone (SIGCONT for its window, SIGSTOP after its answer). So an opponent's threads, spinning or not, can
//! take at most [`TOGETHER`] of an agent's thinking per step, and never more than that of any move. The order
//! of a simultaneous game's step reverses every step, so the agent that thinks last in one step, which keeps
//! running, thinks first in the next.
//!
//! A turn's clock starts when the agent runs with its message sent and stops while it is stopped; what it
//! shows when the answer arrives is the time charged for the move. A turn ends at its budget (`step_ms` plus
//! the bank, or `init_ms`) or at the match deadline, whichever comes first; at the match deadline the time of
//! the turns under way is still added to their seats' clocks, so that the match's time is attributed.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::Match;
use super::seat::Seat;
use crate::agent::{Reply, Sent};

/// How long agents with a turn at the same time think together before they think one after the other. Agents
/// that answer at once (most steps of most agents) never wait for each other and are never stopped; past this,
/// no agent's CPU can be taken by another of the match.
pub(super) const TOGETHER: Duration = Duration::from_millis(1);

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
    /// Lets the agents of `turns` think, every agent without a turn stopped: together for at most
    /// [`TOGETHER`], then one after the other in their order, each alone. Returns how each turn ended; `None`
    /// when the match deadline came first (the time of the turns under way is added to their seats' clocks).
    pub(super) async fn think(&mut self, turns: Vec<Turn>) -> Option<Vec<Answered>> {
        let mut answered = Vec::with_capacity(turns.len());
        let turns = if turns.len() > 1 {
            self.think_together(turns, &mut answered).await?
        } else {
            turns
        };
        self.think_alone(turns, &mut answered).await?;
        Some(answered)
    }

    /// Lets every agent of `turns` think at once until all answered or [`TOGETHER`] passed; returns the turns
    /// still under way, with every agent stopped but the first of them.
    async fn think_together(
        &mut self,
        turns: Vec<Turn>,
        answered: &mut Vec<Answered>,
    ) -> Option<Vec<Turn>> {
        let now = Instant::now();
        let order: Vec<usize> = turns.iter().map(|t| t.player).collect();
        let mut slots: Vec<Option<Turn>> = (0..self.seats.len()).map(|_| None).collect();
        for mut turn in turns {
            self.seats[turn.player].resume();
            turn.start(now);
            let player = turn.player;
            slots[player] = Some(turn);
        }
        for seat in &mut self.seats {
            if slots[seat.player].is_none() {
                seat.pause();
            }
        }
        let until = self
            .deadline
            .min(tokio::time::Instant::from_std(now + TOGETHER));
        let thoughts = self
            .seats
            .iter_mut()
            .zip(slots.iter_mut())
            .filter_map(|(seat, slot)| {
                let turn = slot.as_mut()?;
                Some(async move { (seat.player, seat.think(turn, until).await) })
            });
        for (player, reply) in join_all(thoughts).await {
            let Some(reply) = reply else {
                continue;
            };
            if let Some(turn) = slots[player].take() {
                answered.push(self.seats[player].answered(turn, reply));
            }
        }
        let mut pending: Vec<Turn> = order.iter().filter_map(|&p| slots[p].take()).collect();
        if pending.is_empty() {
            return Some(pending);
        }
        let now = Instant::now();
        if tokio::time::Instant::now() >= self.deadline {
            for turn in pending {
                self.seats[turn.player].add_clock(turn.clock(now));
            }
            return None;
        }
        // The first agent still thinking goes on; every other stops.
        let first = pending[0].player;
        for seat in &mut self.seats {
            if seat.player != first {
                seat.pause();
            }
        }
        for turn in pending.iter_mut().skip(1) {
            turn.stop(now);
        }
        Some(pending)
    }

    /// Lets the agents of `turns` think one after the other in their order, each alone.
    async fn think_alone(&mut self, turns: Vec<Turn>, answered: &mut Vec<Answered>) -> Option<()> {
        let Some(first) = turns.first().map(|t| t.player) else {
            return Some(());
        };
        for seat in &mut self.seats {
            if seat.player != first {
                seat.pause();
            }
        }
        let count = turns.len();
        let mut turns = turns.into_iter().enumerate();
        while let Some((i, mut turn)) = turns.next() {
            let seat = &mut self.seats[turn.player];
            seat.resume();
            turn.start(Instant::now());
            let Some(reply) = seat.think(&mut turn, self.deadline).await else {
                let now = Instant::now();
                seat.add_clock(turn.clock(now));
                for (_, rest) in turns {
                    self.seats[rest.player].add_clock(rest.clock(now));
                }
                return None;
            };
            if i + 1 < count {
                // The last one runs on: it may think first in the next step.
                seat.pause();
            }
            answered.push(seat.answered(turn, reply));
        }
        Some(())
    }
}

impl Seat {
    /// Ends `turn` with `reply`: its time goes on the seat's clock.
    fn answered(&mut self, turn: Turn, reply: Reply) -> Answered {
        self.add_clock(match reply {
            Reply::TimedOut => turn.budget,
            _ => turn.clock(Instant::now()).min(turn.budget),
        });
        Answered {
            player: turn.player,
            budget: turn.budget,
            reply,
            cpu_before: turn.cpu_before,
        }
    }
}

/// The order in which `players` (ascending, as [`envs::Environment::to_move`] gives them) think in
/// step `step`: as given in odd steps, reversed in even ones, so that the last of one step is the first of the
/// next.
pub(super) fn order(players: &[usize], step: u32) -> impl Iterator<Item = usize> + '_ {
    let n = players.len();
    (0..n).map(move |i| players[if step % 2 == 0 { n - 1 - i } else { i }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_alternates_so_that_the_last_thinker_goes_on_first() {
        let order = |players: &[usize], step| order(players, step).collect::<Vec<_>>();
        assert_eq!(order(&[0, 1], 1), [0, 1]);
        assert_eq!(order(&[0, 1], 2), [1, 0]);
        assert_eq!(order(&[0, 1, 2], 3), [0, 1, 2]);
        assert_eq!(order(&[0, 1, 2], 4), [2, 1, 0]);
        assert_eq!(order(&[1], 7), [1]);
        assert_eq!(order(&[], 2), Vec::<usize>::new());
    }
}
