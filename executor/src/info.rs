//! What the executor knows and tells about a match, in its own terms: what it was submitted as
//! ([`Submitted`]), where it is ([`MatchInfo`]) and, once it ended, its result ([`MatchResult`]: the
//! orchestrator's outcome and where the replay is stored). The wire messages are made from these at the edges
//! ([`crate::convert`]).

use proto::outcome::{AgentOutcome, AgentStatus, MatchOutcome, MatchStatus};

/// What a match was submitted as, besides its id. The live match, the Kubernetes Job's annotations and the
/// stored result all keep it, so that a repeated request and `GetMatch` answer the same on any replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Submitted {
    /// Digest of the request; a repeated match id must carry the same request.
    pub(crate) fingerprint: String,
    pub(crate) environment: String,
    /// Agent ids in seat order.
    pub(crate) agent_ids: Vec<String>,
}

/// Where a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchState {
    Queued,
    Running,
    Finished,
}

/// A match as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MatchInfo {
    pub(crate) match_id: String,
    pub(crate) state: MatchState,
    /// Set once the match finished.
    pub(crate) result: Option<MatchResult>,
    /// Steps played so far; every step once the match finished.
    pub(crate) current_step: u32,
    pub(crate) environment: String,
    pub(crate) agent_ids: Vec<String>,
}

/// The final result of a match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MatchResult {
    /// When a replay was stored, its `replay_sha256` is the digest of the stored bytes.
    pub(crate) outcome: MatchOutcome,
    /// Where the replay and its viewer are; `None` when no replay was stored.
    pub(crate) replay: Option<ReplayLinks>,
    /// Why no replay is stored although the request asked for one; a replay is stored whole or not at all.
    pub(crate) replay_error: Option<String>,
}

/// The URLs of a stored replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplayLinks {
    pub(crate) json_url: String,
    pub(crate) html_url: String,
}

impl MatchResult {
    /// A result without a stored replay.
    pub(crate) fn new(outcome: MatchOutcome) -> Self {
        Self {
            outcome,
            replay: None,
            replay_error: None,
        }
    }
}

/// What the outcome of a match that could not be played names: the match, its seed (0 when it is not known)
/// and its agents in seat order. Nothing else about a match is needed to fail it.
#[derive(Debug, Clone)]
pub(crate) struct Entrants<'a> {
    pub(crate) match_id: &'a str,
    pub(crate) seed: u64,
    pub(crate) agent_ids: Vec<&'a str>,
}

impl Entrants<'_> {
    /// The outcome of the match failed with `status` for a reason no agent caused, after its agents may have
    /// played.
    pub(crate) fn failed(&self, status: MatchStatus, message: impl Into<String>) -> MatchOutcome {
        self.failed_by(status, message.into(), &[])
    }

    /// The outcome of the match failed with `status` after its agents may have played; `faults` charges the
    /// agents (by seat) that caused it.
    pub(crate) fn failed_by(
        &self,
        status: MatchStatus,
        message: String,
        faults: &[(usize, String)],
    ) -> MatchOutcome {
        self.outcome(status, message, faults, AgentStatus::Ok)
    }

    /// The outcome of a match that ended with `status` before any agent was started, through no agent's fault:
    /// every agent is reported [`AgentStatus::NotStarted`].
    pub(crate) fn not_started(
        &self,
        status: MatchStatus,
        message: impl Into<String>,
    ) -> MatchOutcome {
        self.not_started_by(status, message.into(), &[])
    }

    /// The outcome of a match that ended with `status` before its agents were started; `faults` charges the
    /// agents (by seat) whose fault that was, the others are [`AgentStatus::NotStarted`].
    pub(crate) fn not_started_by(
        &self,
        status: MatchStatus,
        message: String,
        faults: &[(usize, String)],
    ) -> MatchOutcome {
        self.outcome(status, message, faults, AgentStatus::NotStarted)
    }

    /// An outcome charging `faults` (by seat) and reporting every other agent as `others`.
    fn outcome(
        &self,
        status: MatchStatus,
        message: String,
        faults: &[(usize, String)],
        others: AgentStatus,
    ) -> MatchOutcome {
        let agents = self
            .agent_ids
            .iter()
            .enumerate()
            .map(|(i, agent_id)| {
                let fault = faults.iter().find(|(j, _)| *j == i).map(|(_, m)| m.clone());
                AgentOutcome {
                    agent_id: (*agent_id).to_string(),
                    score: 0.0,
                    errors: u32::from(fault.is_some()),
                    status: if fault.is_some() {
                        AgentStatus::Error
                    } else {
                        others
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
            match_id: self.match_id.to_string(),
            status,
            winner: None,
            agents,
            total_steps: 0,
            execution_time_sec: 0.0,
            seed: self.seed,
            error_message: message,
            replay_sha256: None,
        }
    }
}
