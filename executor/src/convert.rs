//! The executor's domain types as wire messages and back, for the edges that speak the wire: the gRPC handlers
//! ([`crate::service`]), the report receiver ([`crate::reporter`]) and the stored result format
//! ([`crate::result_store`]). Outcomes themselves convert in `proto::convert`.

use proto::outcome::{AgentStatus, MatchOutcome};
use proto::pb::{self, match_update::Update};

use crate::info::{MatchInfo, MatchResult, MatchState, ReplayLinks};
use crate::live::{AgentError, Frame, LiveEvent, Started};

impl From<&MatchResult> for pb::MatchResponse {
    fn from(result: &MatchResult) -> Self {
        let mut response = result.outcome.to_response();
        if let Some(links) = &result.replay {
            response.replay_url = links.json_url.clone();
            response.replay_html_url = links.html_url.clone();
        }
        response.replay_error = result.replay_error.clone().unwrap_or_default();
        response
    }
}

impl From<&pb::MatchResponse> for MatchResult {
    fn from(response: &pb::MatchResponse) -> Self {
        let stored = !response.replay_url.is_empty() || !response.replay_html_url.is_empty();
        Self {
            outcome: MatchOutcome::from(response),
            replay: stored.then(|| ReplayLinks {
                json_url: response.replay_url.clone(),
                html_url: response.replay_html_url.clone(),
            }),
            replay_error: Some(response.replay_error.clone()).filter(|e| !e.is_empty()),
        }
    }
}

impl From<MatchState> for pb::MatchState {
    fn from(state: MatchState) -> Self {
        match state {
            MatchState::Queued => Self::Queued,
            MatchState::Running => Self::Running,
            MatchState::Finished => Self::Finished,
        }
    }
}

impl From<&MatchInfo> for pb::MatchInfo {
    fn from(info: &MatchInfo) -> Self {
        Self {
            match_id: info.match_id.clone(),
            state: pb::MatchState::from(info.state).into(),
            result: info.result.as_ref().map(pb::MatchResponse::from),
            current_step: info.current_step,
            environment: info.environment.clone(),
            agent_ids: info.agent_ids.clone(),
            // Where the match runs is the backend's to say; the service fills it in.
            job_name: String::new(),
        }
    }
}

/// A live event as the update watchers receive.
pub(crate) fn update(match_id: &str, event: LiveEvent) -> pb::MatchUpdate {
    let update = match event {
        LiveEvent::Started(s) => Update::Started(pb::MatchStarted {
            environment: s.environment,
            agent_ids: s.agent_ids,
            seed: s.seed,
        }),
        LiveEvent::Frame(f) => Update::Frame(pb::StepFrame {
            step: f.step,
            rewards: f.rewards,
            render_json: f.render_json,
        }),
        LiveEvent::AgentError(e) => Update::AgentError(pb::AgentErrorEvent {
            player: e.player,
            agent_id: e.agent_id,
            step: e.step,
            kind: pb::AgentStatus::from(e.kind).into(),
            message: e.message,
        }),
        LiveEvent::Finished(result) => Update::Finished(pb::MatchResponse::from(&*result)),
    };
    pb::MatchUpdate {
        match_id: match_id.to_string(),
        update: Some(update),
    }
}

impl From<pb::MatchStarted> for Started {
    fn from(s: pb::MatchStarted) -> Self {
        Self {
            environment: s.environment,
            agent_ids: s.agent_ids,
            seed: s.seed,
        }
    }
}

impl From<pb::StepFrame> for Frame {
    fn from(f: pb::StepFrame) -> Self {
        Self {
            step: f.step,
            rewards: f.rewards,
            render_json: f.render_json,
        }
    }
}

impl From<pb::AgentErrorEvent> for AgentError {
    fn from(e: pb::AgentErrorEvent) -> Self {
        Self {
            kind: AgentStatus::from(e.kind()),
            player: e.player,
            agent_id: e.agent_id,
            step: e.step,
            message: e.message,
        }
    }
}
