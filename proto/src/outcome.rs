//! The outcome of a match: what the orchestrator writes to its result file (the Kubernetes termination
//! message) and sends as the last event of its report stream.

use serde::{Deserialize, Serialize};

/// How the match as a whole ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// Played to its end (including ends by disqualification).
    Success,
    /// The match's wall-clock budget ran out; the result covers what was played.
    Timeout,
    /// The match could not be played (for example the environment configuration was invalid).
    Error,
    /// Stopped on request.
    Cancelled,
}

/// How one agent's part of the match ended, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Ok,
    /// The match ended before the agent was started, through no fault of its own (another agent could not be
    /// installed, the environment could not be made, the match was cancelled or ran out of time first).
    NotStarted,
    Error,
    InvalidAction,
    Timeout,
    Crashed,
    Disqualified,
}

/// The result of a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchOutcome {
    pub match_id: String,
    pub status: MatchStatus,
    /// The winning agent's id; `None` on a draw or when there is no result.
    pub winner: Option<String>,
    /// One entry per player, in seat order.
    pub agents: Vec<AgentOutcome>,
    pub total_steps: u32,
    pub execution_time_sec: f64,
    /// The seed the match was played with. Written as a number here (the result file and the report stream);
    /// read from a number or a decimal string (replays embed the outcome with the seed as text).
    #[serde(deserialize_with = "crate::seed::deserialize")]
    pub seed: u64,
    /// Why the match is not a success; empty otherwise.
    #[serde(default)]
    pub error_message: String,
    /// SHA-256 (hex) of the replay JSON as written; `None` when no replay was recorded.
    #[serde(default)]
    pub replay_sha256: Option<String>,
}

/// One agent's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentOutcome {
    pub agent_id: String,
    /// The environment's score for this agent (points in pong).
    pub score: f64,
    /// Timeouts, invalid actions and crashes charged to this agent.
    pub errors: u32,
    pub status: AgentStatus,
    /// The first error charged to the agent, with its step; empty when it made none.
    #[serde(default)]
    pub error_message: String,
    /// The kept part of the agent's stderr (head, a marker, and tail when it was longer).
    #[serde(default)]
    pub stderr_tail: String,
    /// Wall-clock time spent waiting for this agent's answers.
    #[serde(default)]
    pub time_used_sec: f64,
    /// CPU time the agent's processes used.
    #[serde(default)]
    pub cpu_time_sec: f64,
    /// The sandbox layers that were in force for the agent.
    #[serde(default)]
    pub isolation: Isolation,
}

/// Which isolation layers were applied to an agent, as found on the machine that ran it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// Layers in force, such as `rlimits`, `seccomp`, `landlock`, `process_group`.
    #[serde(default)]
    pub applied: Vec<String>,
    /// Layers asked for but unavailable, each with the reason.
    #[serde(default)]
    pub unavailable: Vec<String>,
}
