//! One player's seat: its agent process and its account (errors, time bank, time and CPU used, status).
//!
//! A seat charges faults, spends the time bank, takes its agent out of the match and stops it; what a reply
//! counts as is decided by [`super::judge`].

use std::time::Duration;

use envs::Environment;
use futures_util::future::join_all;
use proto::outcome::{AgentOutcome, AgentStatus, Isolation};
use proto::replay::MoveStatus;
use proto::spec::MatchSpec;
use serde_json::Value;

use super::scratch;
use super::think::Turn;
use crate::agent::protocol;
use crate::agent::{AgentProcess, ProcessLimits, Ready};
use crate::report::Reporter;

/// One player's agent and its account.
pub(super) struct Seat {
    pub(super) player: usize,
    pub(super) agent_id: String,
    process: Option<AgentProcess>,
    /// Whether the agent's process was ever started; one that never was is reported as not started, unless
    /// it was charged for it.
    started: bool,
    /// Why the agent no longer plays its own moves; `None` while it does.
    out: Option<MoveStatus>,
    status: AgentStatus,
    errors: u32,
    first_error: String,
    stderr: String,
    bank: Duration,
    time_used: Duration,
    /// All the time the agent thought, `init` and turns cut by the match deadline included: its part of the
    /// match's time budget.
    clock: Duration,
    /// CPU seconds the agent's processes used, sampled until they were stopped.
    cpu_seconds: f64,
    /// The isolation layers in force for the agent.
    isolation: Isolation,
}

/// The seats of the agents of `spec`, in seat order, each with a full time bank.
pub(super) fn seats_of(spec: &MatchSpec) -> Vec<Seat> {
    let bank = Duration::from_millis(spec.limits.bank_ms);
    spec.agents
        .iter()
        .enumerate()
        .map(|(player, agent)| Seat {
            player,
            agent_id: agent.agent_id.clone(),
            process: None,
            started: false,
            out: None,
            status: AgentStatus::Ok,
            errors: 0,
            first_error: String::new(),
            stderr: String::new(),
            bank,
            time_used: Duration::ZERO,
            clock: Duration::ZERO,
            cpu_seconds: 0.0,
            isolation: Isolation::default(),
        })
        .collect()
}

impl Seat {
    pub(super) fn playing(&self) -> bool {
        self.out.is_none()
    }

    /// How the move of an agent on move that is not asked goes: it is out for this reason.
    pub(super) fn absent_move(&self) -> MoveStatus {
        self.out.unwrap_or(MoveStatus::Crashed)
    }

    /// Charges one error to the agent and tells the executor; `step` is `None` during init.
    pub(super) fn charge(
        &mut self,
        status: AgentStatus,
        step: Option<u32>,
        message: &str,
        reporter: &Reporter,
    ) {
        self.errors += 1;
        self.status = self.status.max(status);
        let full = match step {
            Some(step) => format!("step {step}: {message}"),
            None => format!("init: {message}"),
        };
        tracing::warn!(player = self.player, agent_id = %self.agent_id, step, kind = ?status, message,
            errors = self.errors, "agent fault");
        reporter.agent_error(
            self.player,
            &self.agent_id,
            step.unwrap_or(0),
            status,
            &full,
        );
        if self.first_error.is_empty() {
            self.first_error = full;
        }
    }

    /// Charges an agent that cannot run (not runnable, or its process could not start); it is out.
    pub(super) fn cannot_run(&mut self, message: &str, reporter: &Reporter) {
        self.charge(AgentStatus::Error, None, message, reporter);
        self.out = Some(MoveStatus::Crashed);
    }

    /// Disqualifies a playing agent with more than `max_errors` errors (the disqualification itself is no
    /// further error); true when it did.
    pub(super) async fn disqualify_over(
        &mut self,
        max_errors: u32,
        step: u32,
        reporter: &Reporter,
    ) -> bool {
        if !self.playing() || self.errors <= max_errors {
            return false;
        }
        let message = format!(
            "step {step}: disqualified after {} errors (the limit is {max_errors})",
            self.errors
        );
        tracing::warn!(player = self.player, agent_id = %self.agent_id, step, errors = self.errors,
            "agent disqualified");
        reporter.agent_error(
            self.player,
            &self.agent_id,
            step,
            AgentStatus::Disqualified,
            &message,
        );
        self.status = AgentStatus::Disqualified;
        self.retire(MoveStatus::Disqualified).await;
        true
    }

    /// Takes the agent out of the match and stops its process at once.
    pub(super) async fn retire(&mut self, why: MoveStatus) {
        self.out = Some(why);
        if let Some(mut process) = self.process.take() {
            self.stderr = process.stop(None, Duration::ZERO).await;
            self.cpu_seconds = process.cpu_seconds();
        }
    }

    /// Records the isolation planned for the agent.
    pub(super) fn sandboxed(&mut self, isolation: &Isolation) {
        self.isolation = isolation.clone();
    }

    /// Starts the prepared agent; `None` when it could not start (charged and out).
    pub(super) async fn spawn(
        &mut self,
        ready: Ready,
        limits: ProcessLimits,
        reporter: &Reporter,
    ) -> Option<&mut AgentProcess> {
        let (process, isolation, command) = match ready.start(limits).await {
            Ok(started) => started,
            Err(message) => {
                self.cannot_run(&message, reporter);
                return None;
            }
        };
        self.isolation = isolation;
        self.started = true;
        tracing::info!(player = self.player, agent_id = %self.agent_id, %command,
            pid = process.pid(), applied = ?self.isolation.applied, unavailable = ?self.isolation.unavailable,
            "agent started");
        Some(self.process.insert(process))
    }

    /// Why the agent is over its scratch or thread limits ([`scratch::excess`]), `None` while it is within
    /// them or has no process.
    pub(super) async fn excess(&mut self, scratch_mb: u64) -> Option<String> {
        let usage = self.process.as_mut()?.usage().await;
        scratch::excess(&usage, scratch_mb)
    }

    pub(super) fn process_mut(&mut self) -> Option<&mut AgentProcess> {
        self.process.as_mut()
    }

    /// Whether the agent is running (not stopped off turn).
    pub(super) fn running(&self) -> bool {
        self.process.as_ref().is_some_and(|p| !p.paused())
    }

    /// Stops the agent (SIGSTOP) so that it cannot compute while it has no turn.
    pub(super) fn pause(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.pause();
        }
    }

    /// Lets a stopped agent run again (SIGCONT).
    pub(super) fn resume(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.resume();
        }
    }

    /// Adds thinking time to the agent's part of the match's time budget.
    pub(super) fn add_clock(&mut self, time: Duration) {
        self.clock += time;
    }

    /// The agent's part of the match's time budget so far.
    pub(super) fn clock(&self) -> Duration {
        self.clock
    }

    /// The agent's CPU nanoseconds now, when it still plays (per-move CPU is a debug figure: reading `/proc`
    /// around every move costs dozens of system calls per step; each agent's total is read when it stops).
    pub(super) async fn cpu_before_move(&mut self) -> Option<u64> {
        let process = self.process.as_mut().filter(|_| self.out.is_none())?;
        process.sample_cpu().await.map(|(_, ns)| ns)
    }

    /// Sends the agent its `step` message when it still plays and returns its turn (within `step_ms` plus
    /// the bank); `cpu_before` is its CPU time sampled before, when per-move CPU is logged.
    pub(super) fn ask(
        &mut self,
        step: u32,
        env: &dyn Environment,
        step_ms: Duration,
        cpu_before: Option<u64>,
    ) -> Option<Turn> {
        let running = self.running();
        let process = self.process.as_mut().filter(|_| self.out.is_none())?;
        let bank_ms = u64::try_from(self.bank.as_millis()).unwrap_or(u64::MAX);
        let message = protocol::step_message(step, env.observation(self.player), bank_ms);
        let sent = process.send(&message);
        let mut turn = Turn::new(self.player, sent, step_ms + self.bank, Some(step), running);
        turn.cpu_before = cpu_before;
        Some(turn)
    }

    /// Logs the CPU time of a move at debug level, when it was sampled before the move.
    pub(super) async fn log_move_cpu(&mut self, step: u32, before: Option<u64>) {
        let Some(before) = before else {
            return;
        };
        let after = match self.process.as_mut() {
            Some(process) => process.sample_cpu().await.map_or(before, |(_, ns)| ns),
            None => before,
        };
        let cpu_ms = after.saturating_sub(before) as f64 / 1e6;
        tracing::debug!(player = self.player, step, cpu_ms, "agent move");
    }

    /// Counts `elapsed` as the agent's time: what goes over `step_ms` is drawn from the bank.
    pub(super) fn spend(&mut self, elapsed: Duration, step_ms: Duration) {
        self.bank = self.bank.saturating_sub(elapsed.saturating_sub(step_ms));
        self.time_used += elapsed;
    }

    /// The agent's part of the outcome, with its `score`.
    pub(super) fn outcome(&self, score: f64) -> AgentOutcome {
        AgentOutcome {
            agent_id: self.agent_id.clone(),
            score,
            errors: self.errors,
            status: if self.started || self.errors > 0 {
                self.status
            } else {
                AgentStatus::NotStarted
            },
            error_message: self.first_error.clone(),
            stderr_tail: self.stderr.clone(),
            time_used_sec: self.time_used.as_secs_f64(),
            cpu_time_sec: self.cpu_seconds,
            isolation: self.isolation.clone(),
        }
    }
}

/// Sends `end` to every agent still running, then stops them all (concurrently), each within `grace`.
pub(super) async fn stop_all(seats: &mut [Seat], end: &Value, grace: Duration) {
    let stops = seats.iter_mut().filter_map(|seat| {
        let mut process = seat.process.take()?;
        Some(async move {
            seat.stderr = process.stop(Some(end), grace).await;
            seat.cpu_seconds = process.cpu_seconds();
        })
    });
    join_all(stops).await;
}
