//! How big a match pod is: the memory of its `match-orchestrator` container, derived from the agents'
//! limits, and how much room the orchestrator's result has in the pod's termination messages.
//!
//! Memory: since Kubernetes 1.28 the kubelet sets `memory.oom.group` on cgroup v2, so a container that reaches
//! its memory limit loses every process at once, the orchestrator included, and nobody is blamed. Each agent
//! runs under an address-space limit (`limits.memory_mb`), which it reaches before its resident memory can,
//! so a container limit of the agents' limits plus the orchestrator's headroom makes a greedy agent fail
//! alone, charged to it.
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

/// The memory of a match's `match-orchestrator` container, checked against the cluster's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PodMemory {
    /// The container's memory limit, in MiB.
    pub(super) limit_mib: u64,
    /// The container's memory request, in MiB: the configured request, never above the limit.
    pub(super) request_mib: u64,
}

/// The memory settings every match shares, in bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct MemoryPolicy {
    pub(super) request: u64,
    pub(super) headroom: u64,
    pub(super) max: u64,
}

impl MemoryPolicy {
    /// Reads the three quantities of the configuration.
    pub(super) fn new(request: &str, headroom: &str, max: &str) -> Result<Self> {
        let parse = |flag: &str, value: &str| {
            quantity_bytes(value).ok_or_else(|| {
                Error::InvalidConfig(format!(
                    "{flag} {value:?}: not a memory quantity; write it like 512Mi or 8Gi"
                ))
            })
        };
        let policy = Self {
            request: parse("k8s-orchestrator-memory-request", request)?,
            headroom: parse("k8s-orchestrator-memory-headroom", headroom)?,
            max: parse("k8s-orchestrator-memory-limit", max)?,
        };
        if policy.headroom >= policy.max {
            return Err(Error::InvalidConfig(format!(
                "k8s-orchestrator-memory-headroom ({headroom}) must be below k8s-orchestrator-memory-limit ({max}), \
                 which also holds the agents"
            )));
        }
        Ok(policy)
    }

    /// The memory of a match whose `agents` each get `agent_mib` of address space; a match that cannot fit
    /// under the cap is refused with what would fit.
    pub(super) fn for_match(&self, agents: usize, agent_mib: u64) -> Result<PodMemory> {
        let agents_bytes = (agents as u64)
            .saturating_mul(agent_mib)
            .saturating_mul(MIB);
        let limit = agents_bytes.saturating_add(self.headroom);
        if limit > self.max {
            let fits = (self.max - self.headroom) / MIB / (agents.max(1) as u64);
            return Err(Error::InvalidArgument(format!(
                "limits.memory_mb: {agents} agents of {agent_mib} MiB each plus the orchestrator's {} MiB do not \
                 fit in this cluster's match pods ({} MiB); ask for at most {fits} MiB per agent",
                self.headroom.div_ceil(MIB),
                self.max / MIB
            )));
        }
        let limit_mib = limit.div_ceil(MIB);
        Ok(PodMemory {
            limit_mib,
            request_mib: self.request.div_ceil(MIB).min(limit_mib),
        })
    }
}

/// Room for the orchestrator's result in the termination messages of a pod with `containers` containers.
pub(super) fn result_max_bytes(containers: usize) -> usize {
    (POD_MESSAGE_MAX / containers.max(1)).min(CONTAINER_MESSAGE_MAX)
}
