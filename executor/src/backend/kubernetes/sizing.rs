//! How big a match pod is: the memory of its `match-orchestrator` container (configured) and of each
//! `agent-N` container (derived from the agent's limit), and how much room the orchestrator's result has in
//! the pod's termination messages.
//!
//! Memory: since Kubernetes 1.28 the kubelet sets `memory.oom.group` on cgroup v2, so a container that reaches
//! its memory limit loses every process at once. Each agent runs under an address-space limit
//! (`limits.memory_mb`), which it reaches before its resident memory can, so a container limit of that plus a
//! headroom for the agent shim makes a greedy agent fail alone, charged to it; and a container that is OOMKilled
//! all the same takes only its own agent with it, never the orchestrator or the other seat.
//!
//! Termination messages: the kubelet keeps the last 4096 bytes of each container's message file and then
//! gives the pod 12 KiB split evenly across all its containers (init containers and injected sidecars
//! included), keeping the first bytes of each.

use crate::error::{Error, Result};

/// The kubelet's cap on one container's termination message (`MaxContainerTerminationMessageLength`).
pub(super) const CONTAINER_MESSAGE_MAX: usize = 4096;
/// The kubelet's termination-message budget of a whole pod (`MaxPodTerminationMessageLogLength`).
pub(super) const POD_MESSAGE_MAX: usize = 12 * 1024;
const MIB: u64 = 1024 * 1024;

/// Bytes of a Kubernetes memory quantity (`512Mi`, `4Gi`, `1G`, `1.5Gi`, `1048576`); `None` when it is not
/// one.
pub(super) fn quantity_bytes(quantity: &str) -> Option<u64> {
    let q = quantity.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor: u64 = match suffix {
        "" => 1,
        "k" => 1000,
        "M" => 1000u64.pow(2),
        "G" => 1000u64.pow(3),
        "T" => 1000u64.pow(4),
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return None,
    };
    if let Ok(n) = number.parse::<u64>() {
        return n.checked_mul(factor);
    }
    let n: f64 = number.parse().ok().filter(|n: &f64| n.is_finite())?;
    let bytes = (n * factor as f64).ceil();
    (bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// The memory settings every match shares.
#[derive(Debug, Clone)]
pub(super) struct MemoryPolicy {
    /// The `match-orchestrator` container's request and limit, as configured (checked quantities).
    pub(super) orchestrator: (String, String),
    /// Bytes of an agent container on top of its agent's address-space limit.
    pub(super) agent_headroom: u64,
    /// The largest agent container, in bytes.
    pub(super) agent_max: u64,
}

impl MemoryPolicy {
    /// Reads the quantities of the configuration: the orchestrator's request and limit, an agent container's
    /// headroom and largest limit.
    pub(super) fn new(
        orchestrator_request: &str,
        orchestrator_limit: &str,
        agent_headroom: &str,
        agent_max: &str,
    ) -> Result<Self> {
        let parse = |flag: &str, value: &str| {
            quantity_bytes(value).ok_or_else(|| {
                Error::InvalidConfig(format!(
                    "{flag} {value:?}: not a memory quantity; write it like 512Mi or 8Gi"
                ))
            })
        };
        let request = parse("k8s-orchestrator-memory-request", orchestrator_request)?;
        let limit = parse("k8s-orchestrator-memory-limit", orchestrator_limit)?;
        if request > limit {
            return Err(Error::InvalidConfig(format!(
                "k8s-orchestrator-memory-request ({orchestrator_request}) must not exceed \
                 k8s-orchestrator-memory-limit ({orchestrator_limit})"
            )));
        }
        let policy = Self {
            orchestrator: (
                orchestrator_request.trim().to_string(),
                orchestrator_limit.trim().to_string(),
            ),
            agent_headroom: parse("k8s-agent-memory-headroom", agent_headroom)?,
            agent_max: parse("k8s-agent-memory-limit", agent_max)?,
        };
        if policy.agent_headroom >= policy.agent_max {
            return Err(Error::InvalidConfig(format!(
                "k8s-agent-memory-headroom ({agent_headroom}) must be below k8s-agent-memory-limit ({agent_max}), \
                 which also holds the agent"
            )));
        }
        Ok(policy)
    }

    /// The memory of an agent container (request and limit alike), in MiB, for an agent of `agent_mib` of
    /// address space (0: unlimited, the container gets the cap); a match whose agents cannot fit under the cap
    /// is refused with what would fit.
    pub(super) fn agent_mib(&self, agent_mib: u64) -> Result<u64> {
        if agent_mib == 0 {
            return Ok(self.agent_max / MIB);
        }
        let limit = agent_mib
            .saturating_mul(MIB)
            .saturating_add(self.agent_headroom);
        if limit > self.agent_max {
            let fits = (self.agent_max - self.agent_headroom) / MIB;
            return Err(Error::InvalidArgument(format!(
                "limits.memory_mb: an agent of {agent_mib} MiB plus its shim's {} MiB does not fit in this cluster's \
                 agent containers ({} MiB); ask for at most {fits} MiB per agent",
                self.agent_headroom.div_ceil(MIB),
                self.agent_max / MIB
            )));
        }
        Ok(limit.div_ceil(MIB))
    }
}

/// Room for the orchestrator's result in the termination messages of a pod with `containers` containers.
pub(super) fn result_max_bytes(containers: usize) -> usize {
    (POD_MESSAGE_MAX / containers.max(1)).min(CONTAINER_MESSAGE_MAX)
}
