//! Mapping between the domain types of this crate and the generated wire messages, both ways.

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
            AgentStatus::NotStarted => Self::NotStarted,
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
            replay_error: String::new(),
        }
    }
}

impl From<pb::MatchStatus> for MatchStatus {
    /// `STATUS_UNKNOWN`, which the executor never writes, reads as an error.
    fn from(status: pb::MatchStatus) -> Self {
        match status {
            pb::MatchStatus::StatusSuccess => Self::Success,
            pb::MatchStatus::StatusTimeout => Self::Timeout,
            pb::MatchStatus::StatusCancelled => Self::Cancelled,
            pb::MatchStatus::StatusError | pb::MatchStatus::StatusUnknown => Self::Error,
        }
    }
}

impl From<pb::AgentStatus> for AgentStatus {
    /// `AGENT_STATUS_UNSPECIFIED`, which the executor never writes, reads as an error.
    fn from(status: pb::AgentStatus) -> Self {
        match status {
            pb::AgentStatus::Ok => Self::Ok,
            pb::AgentStatus::NotStarted => Self::NotStarted,
            pb::AgentStatus::InvalidAction => Self::InvalidAction,
            pb::AgentStatus::Timeout => Self::Timeout,
            pb::AgentStatus::Crashed => Self::Crashed,
            pb::AgentStatus::Disqualified => Self::Disqualified,
            pb::AgentStatus::Error | pb::AgentStatus::Unspecified => Self::Error,
        }
    }
}

impl From<&pb::Isolation> for Isolation {
    fn from(isolation: &pb::Isolation) -> Self {
        Self {
            applied: isolation.applied.clone(),
            unavailable: isolation.unavailable.clone(),
        }
    }
}

impl From<&pb::AgentResult> for AgentOutcome {
    fn from(agent: &pb::AgentResult) -> Self {
        Self {
            agent_id: agent.agent_id.clone(),
            score: agent.score,
            errors: agent.errors,
            status: agent.status().into(),
            error_message: agent.error_message.clone(),
            stderr_tail: agent.stderr_tail.clone(),
            time_used_sec: agent.time_used_sec,
            cpu_time_sec: agent.cpu_time_sec,
            isolation: agent
                .isolation
                .as_ref()
                .map(Isolation::from)
                .unwrap_or_default(),
        }
    }
}

impl From<&pb::MatchResponse> for MatchOutcome {
    /// The outcome behind a response; the replay's URLs are not part of an outcome. The inverse of
    /// [`MatchOutcome::to_response`] for every response it makes.
    fn from(response: &pb::MatchResponse) -> Self {
        Self {
            match_id: response.match_id.clone(),
            status: response.status().into(),
            winner: Some(response.winner_agent_id.clone()).filter(|w| !w.is_empty()),
            agents: response
                .agent_results
                .iter()
                .map(AgentOutcome::from)
                .collect(),
            total_steps: response.total_steps,
            execution_time_sec: response.execution_time_sec,
            seed: response.seed,
            error_message: response.error_message.clone(),
            replay_sha256: Some(response.replay_sha256.clone()).filter(|s| !s.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_survives_the_wire_and_back() {
        let agent = |id: &str, status| AgentOutcome {
            agent_id: id.into(),
            score: 2.5,
            errors: 1,
            status,
            error_message: "step 3: timeout".into(),
            stderr_tail: "tail".into(),
            time_used_sec: 0.25,
            cpu_time_sec: 0.5,
            isolation: Isolation {
                applied: vec!["seccomp".into()],
                unavailable: vec!["landlock: kernel too old".into()],
            },
        };
        let outcomes = [
            MatchOutcome {
                match_id: "m".into(),
                status: MatchStatus::Success,
                winner: Some("a".into()),
                agents: vec![
                    agent("a", AgentStatus::Ok),
                    agent("b", AgentStatus::Crashed),
                ],
                total_steps: 12,
                execution_time_sec: 1.5,
                seed: 7,
                error_message: String::new(),
                replay_sha256: Some("ab".repeat(32)),
            },
            MatchOutcome {
                match_id: "n".into(),
                status: MatchStatus::Cancelled,
                winner: None,
                agents: vec![agent("c", AgentStatus::Disqualified)],
                total_steps: 0,
                execution_time_sec: 0.0,
                seed: 0,
                error_message: "cancelled".into(),
                replay_sha256: None,
            },
        ];
        for outcome in outcomes {
            assert_eq!(MatchOutcome::from(&outcome.to_response()), outcome);
        }
        for status in [
            MatchStatus::Success,
            MatchStatus::Timeout,
            MatchStatus::Error,
            MatchStatus::Cancelled,
        ] {
            assert_eq!(MatchStatus::from(pb::MatchStatus::from(status)), status);
        }
        assert_eq!(
            MatchStatus::from(pb::MatchStatus::StatusUnknown),
            MatchStatus::Error
        );
        assert_eq!(
            AgentStatus::from(pb::AgentStatus::Unspecified),
            AgentStatus::Error
        );
    }
}
