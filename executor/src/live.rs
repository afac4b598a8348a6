//! A match that is queued or running: its phase, its live event feed for watchers, and its cancel switch.

use std::sync::atomic::{AtomicU32, Ordering};

use proto::pb::{self, match_update::Update};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Live updates kept for slow watchers before they start skipping frames.
const EVENT_BUFFER: usize = 256;

/// Where a live match is.
#[derive(Debug, Clone)]
pub enum Phase {
    Queued,
    Running,
    Finished(Box<pb::MatchResponse>),
}

/// One queued or running match.
#[derive(Debug)]
pub struct LiveMatch {
    pub match_id: String,
    /// Digest of the request that created the match; a repeated id must carry the same request.
    pub fingerprint: String,
    pub environment: String,
    pub agent_ids: Vec<String>,
    phase: watch::Sender<Phase>,
    /// Steps reported so far.
    step: AtomicU32,
    events: broadcast::Sender<pb::MatchUpdate>,
    cancel: CancellationToken,
}

impl LiveMatch {
    pub fn new(
        match_id: String,
        fingerprint: String,
        environment: String,
        agent_ids: Vec<String>,
    ) -> Self {
        Self {
            match_id,
            fingerprint,
            environment,
            agent_ids,
            phase: watch::channel(Phase::Queued).0,
            step: AtomicU32::new(0),
            events: broadcast::channel(EVENT_BUFFER).0,
            cancel: CancellationToken::new(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase.borrow().clone()
    }

    /// The match's state as the API shows it.
    pub fn info(&self) -> pb::MatchInfo {
        let (state, result) = match self.phase() {
            Phase::Queued => (pb::MatchState::Queued, None),
            Phase::Running => (pb::MatchState::Running, None),
            Phase::Finished(response) => (pb::MatchState::Finished, Some(*response)),
        };
        pb::MatchInfo {
            match_id: self.match_id.clone(),
            state: state.into(),
            current_step: result
                .as_ref()
                .map_or_else(|| self.step.load(Ordering::Relaxed), |r| r.total_steps),
            result,
            environment: self.environment.clone(),
            agent_ids: self.agent_ids.clone(),
        }
    }

    /// Live updates from now on. Subscribe before reading [`Self::info`] so nothing falls between them.
    pub fn subscribe(&self) -> broadcast::Receiver<pb::MatchUpdate> {
        self.events.subscribe()
    }

    /// Sends an update to every watcher; watchers that fall behind skip updates, the match never waits.
    pub fn publish(&self, update: Update) {
        if let Update::Frame(frame) = &update {
            self.step.fetch_max(frame.step, Ordering::Relaxed);
        }
        let _ = self.events.send(pb::MatchUpdate {
            match_id: self.match_id.clone(),
            update: Some(update),
        });
    }

    pub fn set_running(&self) {
        self.phase.send_replace(Phase::Running);
    }

    /// Records the final result and tells watchers and waiters.
    pub fn finish(&self, response: pb::MatchResponse) {
        self.phase
            .send_replace(Phase::Finished(Box::new(response.clone())));
        self.publish(Update::Finished(response));
    }

    /// Waits for the final result.
    pub async fn finished(&self) -> pb::MatchResponse {
        let mut rx = self.phase.subscribe();
        loop {
            if let Phase::Finished(response) = &*rx.borrow_and_update() {
                return (**response).clone();
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as `self`, so this is not expected; answer rather than spin.
                return pb::MatchResponse {
                    match_id: self.match_id.clone(),
                    status: pb::MatchStatus::StatusError.into(),
                    error_message: "the match ended without a result".into(),
                    ..Default::default()
                };
            }
        }
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn cancel_token(&self) -> &CancellationToken {
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
            "fp".into(),
            "pong".into(),
            vec!["a".into(), "b".into()],
        );
        let mut rx = live.subscribe();
        assert_eq!(live.info().state(), pb::MatchState::Queued);
        live.set_running();
        live.publish(Update::Frame(pb::StepFrame {
            step: 3,
            ..Default::default()
        }));
        assert_eq!(live.info().current_step, 3);
        live.finish(pb::MatchResponse {
            match_id: "m".into(),
            total_steps: 4,
            ..Default::default()
        });
        assert!(matches!(
            rx.recv().await.unwrap().update,
            Some(Update::Frame(_))
        ));
        assert!(matches!(
            rx.recv().await.unwrap().update,
            Some(Update::Finished(_))
        ));
        assert_eq!(live.finished().await.total_steps, 4);
        let info = live.info();
        assert_eq!(info.state(), pb::MatchState::Finished);
        assert_eq!(info.current_step, 4);
    }
}
