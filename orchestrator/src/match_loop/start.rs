//! Starting a [`Match`]: every prepared agent is spawned in its sandbox and sent `init`, then each gets its
//! turn to answer `ready` within `init_ms`, one after the other (see [`super::think`]). An agent that does not
//! get ready is charged and out.

use std::time::Duration;

use proto::replay::MoveStatus;

use super::think::Turn;
use super::{Match, judge, setup};
use crate::agent::{ProcessLimits, protocol};

impl Match<'_> {
    /// Starts every prepared agent and waits for each to answer `ready`; false when the match deadline came
    /// first.
    pub(super) async fn start(&mut self, prepared: Vec<setup::Start>) -> bool {
        let turns = self.spawn(prepared);
        self.await_ready(turns).await
    }

    /// Spawns every prepared agent and sends it `init`; returns their turns in seat order.
    fn spawn(&mut self, prepared: Vec<setup::Start>) -> Vec<Turn> {
        let limits = &self.spec.limits;
        let process_limits = ProcessLimits {
            max_line_bytes: limits.max_line_bytes,
            stderr_bytes: limits.stderr_bytes,
        };
        let budget = Duration::from_millis(limits.init_ms);
        let config = self.env.config();
        let players = self.seats.len();
        let mut turns = Vec::new();
        for (seat, prepared) in self.seats.iter_mut().zip(prepared) {
            let player = seat.player;
            let Some((launch, sandbox)) = prepared else {
                continue;
            };
            let Some(process) = seat.spawn(&launch, sandbox, process_limits, self.reporter) else {
                continue;
            };
            let environment = &self.spec.environment;
            let init = protocol::init_message(player, players, environment, &config, limits);
            let sent = process.send(&init);
            turns.push(Turn::new(player, sent, budget, None, true));
        }
        turns
    }

    /// Lets the agents answer `init` within `init_ms`, judges the answers, and takes out the agents that did
    /// not get ready; false when the match deadline came first.
    async fn await_ready(&mut self, turns: Vec<Turn>) -> bool {
        let Some(answered) = self.think(turns).await else {
            return false;
        };
        let limits = &self.spec.limits;
        let mut failed = Vec::new();
        for answer in answered {
            let seat = &mut self.seats[answer.player];
            match judge::ready(answer.reply, limits) {
                Some(fault) => {
                    seat.charge(fault.status, None, &fault.message, self.reporter);
                    failed.push(seat.player);
                }
                None => tracing::debug!(player = seat.player, "agent ready"),
            }
        }
        for player in failed {
            self.seats[player].retire(MoveStatus::Crashed).await;
        }
        true
    }
}
