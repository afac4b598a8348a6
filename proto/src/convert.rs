//! Mapping between the domain types of this crate and the generated wire messages.

use crate::outcome::{AgentOutcome, AgentStatus, Isolation, MatchOutcome, MatchStatus};
use crate::pb;

impl From<MatchStatus> for pb::MatchStatus {
    fn from(status: MatchStatus) -> Self {
        match status {
            MatchStatus::Success => Self::StatusSuccess,
            MatchStatus::Timeout => Self::StatusTimeout,
            MatchStatus::Error => Self::StatusError,
            MatchStatus::Cancelled => Self::StatusCancelled,
        }
    }
}

impl From<AgentStatus> for pb::AgentStatus {
    fn from(status: AgentStatus) -> Self {
        match status {
            AgentStatus::Ok => Self::Ok,
            AgentStatus::Error => Self::Error,
            AgentStatus::InvalidAction => Self::InvalidAction,
            AgentStatus::Timeout => Self::Timeout,
            AgentStatus::Crashed => Self::Crashed,
            AgentStatus::Disqualified => Self::Disqualified,
        }
    }
}

impl From<&Isolation> for pb::Isolation {
    fn from(isolation: &Isolation) -> Self {
        Self {
            applied: isolation.applied.clone(),
            unavailable: isolation.unavailable.clone(),
        }
    }
}

impl From<&AgentOutcome> for pb::AgentResult {
    fn from(agent: &AgentOutcome) -> Self {
        Self {
            agent_id: agent.agent_id.clone(),
            score: agent.score,
            errors: agent.errors,
            error_message: agent.error_message.clone(),
            status: pb::AgentStatus::from(agent.status).into(),
            stderr_tail: agent.stderr_tail.clone(),
            time_used_sec: agent.time_used_sec,
            isolation: Some(pb::Isolation::from(&agent.isolation)),
            cpu_time_sec: agent.cpu_time_sec,
        }
    }
}

impl MatchOutcome {
    /// The wire response for this outcome; replay URLs are filled by whoever stored the replay.
    pub fn to_response(&self) -> pb::MatchResponse {
        pb::MatchResponse {
            match_id: self.match_id.clone(),
            status: pb::MatchStatus::from(self.status).into(),
            winner_agent_id: self.winner.clone().unwrap_or_default(),
            agent_results: self.agents.iter().map(pb::AgentResult::from).collect(),
            replay_url: String::new(),
            error_message: self.error_message.clone(),
            total_steps: self.total_steps,
            execution_time_sec: self.execution_time_sec,
            replay_html_url: String::new(),
            seed: self.seed,
            replay_sha256: self.replay_sha256.clone().unwrap_or_default(),
        }
    }
}
