//! A match that is queued or running: its phase, its live event feed for watchers, its deadline, and its cancel
//! switch with the reason it was pulled.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use proto::outcome::{AgentStatus, MatchOutcome, MatchStatus};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::info::{Entrants, MatchInfo, MatchResult, MatchState, Submitted};

/// Live events kept for slow watchers before they start skipping frames.
const EVENT_BUFFER: usize = 256;

/// Where a live match is.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    Queued,
    Running,
    Finished(Box<MatchResult>),
}

/// What watchers of a live match are told, in order: the orchestrator started, frames and agent errors as
/// they happen, and the result last.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LiveEvent {
    Started(Started),
    Frame(Frame),
    AgentError(AgentError),
    Finished(Box<MatchResult>),
}

/// The orchestrator started playing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Started {
    pub(crate) environment: String,
    pub(crate) agent_ids: Vec<String>,
    pub(crate) seed: u64,
}

/// One step as played.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub(crate) step: u32,
    pub(crate) rewards: Vec<f64>,
    /// The environment's render state as JSON, for viewers.
    pub(crate) render_json: String,
}

/// An error charged to an agent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AgentError {
    /// The agent's seat, from 0.
    pub(crate) player: u32,
    pub(crate) agent_id: String,
    pub(crate) step: u32,
    pub(crate) kind: AgentStatus,
    pub(crate) message: String,
}

/// Why a match was stopped before it ended on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// A `CancelMatch` request.
    Request,
    /// The executor shut down: a queued match at the start of a drain, a running one when the drain's grace
    /// period ran out.
    Shutdown,
    /// The match's whole budget (`timeout_sec`, counted from its submission) ran out.
    Deadline,
    /// The executor died during the match; its next start found the match's work directory.
    Restart,
}

impl StopReason {
    /// Says in a cancelled outcome why the match was stopped (a match stopped by its `budget` is a timeout);
    /// an outcome that ended otherwise before the stop took effect is left as it is.
    pub(crate) fn settle(self, outcome: &mut MatchOutcome, budget: std::time::Duration) {
        if outcome.status != MatchStatus::Cancelled {
            return;
        }
        let why = match self {
            Self::Request => "cancelled by a CancelMatch request".to_string(),
            Self::Shutdown => "cancelled: the executor shut down".to_string(),
            Self::Restart => "cancelled: the executor restarted during the match".to_string(),
            Self::Deadline => {
                outcome.status = MatchStatus::Timeout;
                format!(
                    "the match's budget of {} s (timeout_sec: queue, agent installs and play) ran out",
                    budget.as_secs()
                )
            }
        };
        let when = if outcome.total_steps > 0 {
            format!(
                " after {} steps; the result covers what was played",
                outcome.total_steps
            )
        } else if outcome
            .agents
            .iter()
            .all(|a| a.status == AgentStatus::NotStarted)
        {
            " before the agents started".to_string()
        } else {
            String::new()
        };
        outcome.error_message = format!("{why}{when}");
    }
}

/// One queued or running match.
#[derive(Debug)]
pub(crate) struct LiveMatch {
    pub(crate) match_id: String,
    pub(crate) submitted: Submitted,
    phase: watch::Sender<Phase>,
    /// Steps reported so far.
    step: AtomicU32,
    events: broadcast::Sender<LiveEvent>,
    /// The match's whole budget (`timeout_sec`), and when it runs out: its answer is due then, queue time,
    /// agent installs and play included.
    budget: std::time::Duration,
    deadline: tokio::time::Instant,
    cancel: CancellationToken,
    /// The first reason the match was cancelled for; what its result then says happened.
    stop_reason: OnceLock<StopReason>,
}

impl LiveMatch {
    /// A match submitted now with a budget of `budget`.
    pub(crate) fn new(match_id: String, submitted: Submitted, budget: std::time::Duration) -> Self {
        Self {
            match_id,
            submitted,
            phase: watch::channel(Phase::Queued).0,
            step: AtomicU32::new(0),
            events: broadcast::channel(EVENT_BUFFER).0,
            budget,
            deadline: tokio::time::Instant::now() + budget,
            cancel: CancellationToken::new(),
            stop_reason: OnceLock::new(),
        }
    }

    /// When the match's budget runs out.
    pub(crate) fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    /// Says in the cancelled `outcome` of this match why it was stopped, when it was.
    pub(crate) fn settle(&self, outcome: &mut MatchOutcome) {
        if let Some(reason) = self.stop_reason() {
            reason.settle(outcome, self.budget);
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase.borrow().clone()
    }

    /// The match's state as the API shows it.
    pub(crate) fn info(&self) -> MatchInfo {
        let (state, result) = match self.phase() {
            Phase::Queued => (MatchState::Queued, None),
            Phase::Running => (MatchState::Running, None),
            Phase::Finished(result) => (MatchState::Finished, Some(*result)),
        };
        MatchInfo {
            match_id: self.match_id.clone(),
            state,
            current_step: result.as_ref().map_or_else(
                || self.step.load(Ordering::Relaxed),
                |r| r.outcome.total_steps,
            ),
            result,
            environment: self.submitted.environment.clone(),
            agent_ids: self.submitted.agent_ids.clone(),
        }
    }

    /// Live events from now on. Subscribe before reading [`Self::info`] so nothing falls between them.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    /// Sends an event to every watcher; watchers that fall behind skip events, the match never waits.
    pub(crate) fn publish(&self, event: LiveEvent) {
        if let LiveEvent::Frame(frame) = &event {
            self.step.fetch_max(frame.step, Ordering::Relaxed);
        }
        let _ = self.events.send(event);
    }

    pub(crate) fn set_running(&self) {
        self.phase.send_replace(Phase::Running);
    }

    /// Records the final result and tells watchers and waiters.
    pub(crate) fn finish(&self, result: MatchResult) {
        self.phase
            .send_replace(Phase::Finished(Box::new(result.clone())));
        self.publish(LiveEvent::Finished(Box::new(result)));
    }

    /// Waits for the final result.
    pub(crate) async fn finished(&self) -> MatchResult {
        let mut rx = self.phase.subscribe();
        loop {
            if let Phase::Finished(result) = &*rx.borrow_and_update() {
                return (**result).clone();
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as `self`, so this is not expected; answer rather than spin.
                let entrants = Entrants {
                    match_id: &self.match_id,
                    seed: 0,
                    agent_ids: Vec::new(),
                };
                return MatchResult::new(
                    entrants.failed(MatchStatus::Error, "the match ended without a result"),
                );
            }
        }
    }

    /// Stops the match for `reason`; the first reason given is the one its result reports.
    pub(crate) fn cancel(&self, reason: StopReason) {
        let _ = self.stop_reason.set(reason);
        self.cancel.cancel();
    }

    /// Why the match was cancelled; `None` while it was not.
    pub(crate) fn stop_reason(&self) -> Option<StopReason> {
        self.stop_reason.get().copied()
    }

    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn watchers_see_frames_then_the_result() {
        let live = LiveMatch::new(
            "m".into(),
            Submitted {
                fingerprint: "fp".into(),
                environment: "pong".into(),
                agent_ids: vec!["a".into(), "b".into()],
            },
            std::time::Duration::from_secs(60),
        );
        let mut rx = live.subscribe();
        assert_eq!(live.info().state, MatchState::Queued);
        live.set_running();
        live.publish(LiveEvent::Frame(Frame {
            step: 3,
            rewards: Vec::new(),
            render_json: String::new(),
        }));
        assert_eq!(live.info().current_step, 3);
        live.finish(MatchResult::new(MatchOutcome {
            total_steps: 4,
            ..Entrants {
                match_id: "m",
                seed: 1,
                agent_ids: vec!["a", "b"],
            }
            .failed(MatchStatus::Success, "")
        }));
        assert!(matches!(rx.recv().await.unwrap(), LiveEvent::Frame(_)));
        assert!(matches!(rx.recv().await.unwrap(), LiveEvent::Finished(_)));
        assert_eq!(live.finished().await.outcome.total_steps, 4);
        let info = live.info();
        assert_eq!(info.state, MatchState::Finished);
        assert_eq!(info.current_step, 4);
    }

    #[test]
    fn the_first_stop_reason_is_kept() {
        let live = LiveMatch::new(
            "m".into(),
            Submitted {
                fingerprint: "fp".into(),
                environment: "pong".into(),
                agent_ids: vec!["a".into()],
            },
            std::time::Duration::from_secs(60),
        );
        assert_eq!(live.stop_reason(), None);
        assert!(!live.cancel_token().is_cancelled());
        live.cancel(StopReason::Deadline);
        live.cancel(StopReason::Request);
        assert_eq!(live.stop_reason(), Some(StopReason::Deadline));
        assert!(live.cancel_token().is_cancelled());
    }

    fn entrants() -> Entrants<'static> {
        Entrants {
            match_id: "m",
            seed: 1,
            agent_ids: vec!["a", "b"],
        }
    }

    #[test]
    fn a_stopped_match_says_why() {
        let budget = std::time::Duration::from_secs(30);
        let mut played = entrants().failed(
            MatchStatus::Cancelled,
            "match cancelled by a shutdown request",
        );
        played.total_steps = 12;
        let cases = [
            (
                played.clone(),
                StopReason::Request,
                MatchStatus::Cancelled,
                "cancelled by a CancelMatch request after 12 steps; the result covers what was played",
            ),
            (
                played.clone(),
                StopReason::Deadline,
                MatchStatus::Timeout,
                "the match's budget of 30 s (timeout_sec: queue, agent installs and play) ran out after 12 \
                 steps; the result covers what was played",
            ),
            (
                entrants().not_started(
                    MatchStatus::Cancelled,
                    "cancelled while installing the agents",
                ),
                StopReason::Shutdown,
                MatchStatus::Cancelled,
                "cancelled: the executor shut down before the agents started",
            ),
            (
                entrants().failed(
                    MatchStatus::Cancelled,
                    "cancelled; the orchestrator left no result",
                ),
                StopReason::Request,
                MatchStatus::Cancelled,
                "cancelled by a CancelMatch request",
            ),
            (
                played.clone(),
                StopReason::Restart,
                MatchStatus::Cancelled,
                "cancelled: the executor restarted during the match after 12 steps; the result covers what was \
                 played",
            ),
        ];
        for (mut outcome, reason, status, message) in cases {
            reason.settle(&mut outcome, budget);
            assert_eq!(outcome.status, status, "{reason:?}");
            assert_eq!(outcome.error_message, message, "{reason:?}");
        }
        // A match that ended on its own before the stop took effect keeps its result.
        let mut done = entrants().failed(MatchStatus::Success, "");
        StopReason::Deadline.settle(&mut done, budget);
        assert_eq!(done.status, MatchStatus::Success);
        assert_eq!(done.error_message, "");
    }
}
