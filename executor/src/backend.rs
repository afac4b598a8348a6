//! Where matches run. The local backend plays each match as child processes of the executor.

use proto::outcome::{AgentOutcome, AgentStatus, MatchOutcome, MatchStatus};

use crate::request::MatchPlan;

pub mod local;

/// What a backend hands back for a finished match.
#[derive(Debug, Clone)]
pub struct MatchRun {
    pub outcome: MatchOutcome,
    /// The replay JSON as the orchestrator wrote it, when one was recorded.
    pub replay: Option<Vec<u8>>,
}

/// The outcome of a match that could not be played; `faults` charges agents that caused it.
pub fn failed_outcome(
    plan: &MatchPlan,
    status: MatchStatus,
    message: String,
    faults: &[(usize, String)],
) -> MatchOutcome {
    let agents = plan
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let fault = faults.iter().find(|(j, _)| *j == i).map(|(_, m)| m.clone());
            AgentOutcome {
                agent_id: a.agent_id.clone(),
                score: 0.0,
                errors: u32::from(fault.is_some()),
                status: if fault.is_some() {
                    AgentStatus::Error
                } else {
                    AgentStatus::Ok
                },
                error_message: fault.unwrap_or_default(),
                stderr_tail: String::new(),
                time_used_sec: 0.0,
                cpu_time_sec: 0.0,
                isolation: Default::default(),
            }
        })
        .collect();
    MatchOutcome {
        match_id: plan.match_id.clone(),
        status,
        winner: None,
        agents,
        total_steps: 0,
        execution_time_sec: 0.0,
        seed: plan.seed,
        error_message: message,
        replay_sha256: None,
    }
}
