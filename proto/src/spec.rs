//! The match spec: everything the orchestrator needs to play one match.
//!
//! The executor writes it as JSON (a file locally, a Secret in Kubernetes); `orchestrator run --spec FILE`
//! reads it. Unknown fields are ignored so that a newer executor can drive an older orchestrator.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One match to play.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchSpec {
    pub match_id: String,
    /// Environment name, such as `pong`.
    pub environment: String,
    /// Environment configuration; keys the environment does not know are an error there.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The seed of all randomness in the environment. Never shown to agents.
    pub seed: u64,
    /// One entry per player, in seat order.
    pub agents: Vec<AgentSpec>,
    #[serde(default)]
    pub limits: Limits,
    /// Whether to record the replay; the outcome is produced either way.
    #[serde(default = "default_true")]
    pub record_replay: bool,
}

/// One player's agent, already installed on disk by `agent-init`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    pub agent_id: String,
    /// The directory holding the agent's files (`agent.toml`, or `agent.py` / `main.py`).
    pub dir: PathBuf,
}

/// Time and size limits of a match. Agents see the time limits in their `init` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Time an agent has from its start to answer `ready`: interpreters and imports are slow.
    pub init_ms: u64,
    /// Time an agent has for every move before its bank is drawn on.
    pub step_ms: u64,
    /// Extra time an agent may spend over the whole match when a move takes longer than `step_ms`.
    pub bank_ms: u64,
    /// Errors (timeouts, invalid actions) an agent may make; one more disqualifies it.
    pub max_errors: u32,
    /// Wall-clock budget of the whole match; past it the match ends as a timeout with what was played.
    pub match_ms: u64,
    /// Longest line an agent may write, in bytes.
    pub max_line_bytes: usize,
    /// How much of an agent's stderr is kept (head and tail together), in bytes.
    pub stderr_bytes: usize,
    /// Address-space limit of each agent process, in MiB.
    pub memory_mb: u64,
    /// Size of an agent's private scratch directory (and of any file it writes), in MiB.
    pub scratch_mb: u64,
    /// Isolation layers the match needs (such as `seccomp`, `landlock_fs`); when one is unavailable on the
    /// machine, no agent is started and the match ends with an error.
    pub required_isolation: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            init_ms: 10_000,
            step_ms: 200,
            bank_ms: 10_000,
            max_errors: 10,
            match_ms: 300_000,
            max_line_bytes: 64 * 1024,
            stderr_bytes: 8 * 1024,
            memory_mb: 2048,
            scratch_mb: 64,
            required_isolation: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}

impl MatchSpec {
    /// Reads and checks a spec file.
    pub fn load(path: &Path) -> Result<Self> {
        let display = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: display.clone(),
            source,
        })?;
        let spec: Self = serde_json::from_slice(&bytes).map_err(|source| Error::Parse {
            path: display,
            source,
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// Checks what the orchestrator relies on: a valid id, at least one agent, unique agent ids, sane limits.
    pub fn check(&self) -> Result<()> {
        if !crate::ids::is_valid_match_id(&self.match_id) {
            return Err(Error::InvalidSpec(format!(
                "match_id {:?} must be {}",
                self.match_id,
                crate::ids::MATCH_ID_RULE
            )));
        }
        if self.agents.is_empty() {
            return Err(Error::InvalidSpec(
                "agents: at least one agent is needed".into(),
            ));
        }
        for (i, agent) in self.agents.iter().enumerate() {
            if agent.agent_id.is_empty() {
                return Err(Error::InvalidSpec(format!("agents[{i}].agent_id is empty")));
            }
            if self.agents[..i]
                .iter()
                .any(|a| a.agent_id == agent.agent_id)
            {
                return Err(Error::InvalidSpec(format!(
                    "agents[{i}].agent_id {:?} appears twice",
                    agent.agent_id
                )));
            }
        }
        let l = &self.limits;
        if l.init_ms == 0 || l.step_ms == 0 || l.match_ms == 0 || l.max_line_bytes == 0 {
            return Err(Error::InvalidSpec(
                "limits: init_ms, step_ms, match_ms and max_line_bytes must be greater than 0"
                    .into(),
            ));
        }
        Ok(())
    }
}
