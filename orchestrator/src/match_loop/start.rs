//! Starting a [`Match`]: every prepared agent is spawned in its sandbox and sent `init`, then all are
//! awaited (concurrently) for `ready` within `init_ms`. An agent that does not get ready is charged and out.

use std::time::Duration;

use futures_util::future::join_all;
use proto::replay::MoveStatus;

use super::{Match, judge, setup};
use crate::agent::{ProcessLimits, Sent, protocol};

impl Match<'_> {
    /// Starts every prepared agent and waits for each to answer `ready`.
    pub(super) async fn start(&mut self, prepared: Vec<setup::Start>) {
        let receipts = self.spawn(prepared);
        self.await_ready(receipts).await;
    }

    /// Spawns every prepared agent and sends it `init`; returns the receipts in seat order, `None` for
    /// agents that did not start.
    fn spawn(&mut self, prepared: Vec<setup::Start>) -> Vec<Option<Sent>> {
        let limits = &self.spec.limits;
        let process_limits = ProcessLimits {
            max_line_bytes: limits.max_line_bytes,
            stderr_bytes: limits.stderr_bytes,
        };
        let config = self.env.config();
        let players = self.seats.len();
        let mut receipts = Vec::new();
        for (seat, prepared) in self.seats.iter_mut().zip(prepared) {
            let player = seat.player;
            let receipt = prepared.and_then(|(launch, sandbox)| {
                let process = seat.spawn(&launch, sandbox, process_limits, self.reporter)?;
                let environment = &self.spec.environment;
                let init = protocol::init_message(player, players, environment, &config, limits);
                Some(process.send(&init))
            });
            receipts.push(receipt);
        }
        receipts
    }

    /// Waits (concurrently) for the answers to `init` within `init_ms`, judges them, and takes out the
    /// agents that did not get ready.
    async fn await_ready(&mut self, receipts: Vec<Option<Sent>>) {
        let limits = &self.spec.limits;
        let budget = Duration::from_millis(limits.init_ms);
        let waits = self
            .seats
            .iter_mut()
            .zip(receipts)
            .filter_map(|(seat, receipt)| {
                let receipt = receipt?;
                Some(async move {
                    let reply = seat.wait(receipt, budget, None).await;
                    (seat, reply)
                })
            });
        let mut failed = Vec::new();
        for (seat, reply) in join_all(waits).await {
            match judge::ready(reply, limits) {
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
    }
}
