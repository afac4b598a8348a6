//! Where matches run: [`local`] plays each match as child processes of the executor, [`kubernetes`] as one
//! Job per match.

use std::path::Path;
use std::sync::Arc;

use proto::outcome::{AgentOutcome, AgentStatus, MatchOutcome, MatchStatus};
use proto::pb;

use crate::live::LiveMatch;
use crate::request::MatchPlan;

pub mod kubernetes;
pub mod local;

/// The backend an executor runs its matches on.
#[derive(Debug)]
pub enum Backend {
    Local(local::LocalBackend),
    Kubernetes(Arc<kubernetes::KubernetesBackend>),
}

impl Backend {
    /// Plays one match; never fails (failures are the outcome). The match is answered only after the returned
    /// cleanup has finished.
    pub async fn run(
        &self,
        plan: &MatchPlan,
        fingerprint: &str,
        live: &Arc<LiveMatch>,
    ) -> (Played, local::WorkCleanup) {
        match self {
            Self::Local(local) => {
                let (run, cleanup) = local.run(plan, live).await;
                (Played { run, stored: None }, cleanup)
            }
            Self::Kubernetes(k8s) => (
                k8s.run(plan, fingerprint, live).await,
                local::WorkCleanup::default(),
            ),
        }
    }

    /// The `agent-init` binary `ValidateAgent` runs in the executor itself.
    pub fn agent_init_bin(&self) -> &Path {
        match self {
            Self::Local(local) => local.agent_init_bin(),
            Self::Kubernetes(k8s) => &k8s.agent_init_bin,
        }
    }

    /// The Python interpreter `ValidateAgent` checks module agents with.
    pub fn python(&self) -> &str {
        match self {
            Self::Local(local) => local.python(),
            Self::Kubernetes(k8s) => &k8s.python,
        }
    }

    pub fn kubernetes(&self) -> Option<&Arc<kubernetes::KubernetesBackend>> {
        match self {
            Self::Kubernetes(k8s) => Some(k8s),
            Self::Local(_) => None,
        }
    }
}

/// What a backend hands back for a finished match.
#[derive(Debug, Clone)]
pub struct MatchRun {
    pub outcome: MatchOutcome,
    /// The replay JSON as the orchestrator wrote it, when one was recorded.
    pub replay: Option<Vec<u8>>,
}

/// A finished match as a backend hands it back.
#[derive(Debug, Clone)]
pub struct Played {
    pub run: MatchRun,
    /// The response as the backend already stored it (replay and result); `None` leaves storing the replay
    /// to the caller.
    pub stored: Option<pb::MatchResponse>,
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
