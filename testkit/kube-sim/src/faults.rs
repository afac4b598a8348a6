//! Fault injection and request accounting: what tests switch on to see how a client copes
//! (image pulls that fail, unschedulable pods, OOM kills, node loss, an exhausted quota,
//! container creation errors that clear, API restarts, injected error responses) and how many
//! requests of each verb and resource the API served.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::images::image_matches;

/// Error responses to inject into the next `count` requests that match `verb` and `resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInjection {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`;
    /// `None` matches every verb.
    #[serde(default)]
    pub verb: Option<String>,
    /// `pods`, `jobs`, `pods/status`, ...; `None` matches every resource.
    #[serde(default)]
    pub resource: Option<String>,
    /// HTTP status to answer with (410, 429, 500, ...).
    pub code: u16,
    /// How many matching requests fail.
    pub count: u32,
}

/// A container that fails to be created a number of times, in a reason the kubelet retries
/// (`CreateContainerError`, `CreateContainerConfigError`, `ErrImagePull`), before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransientError {
    /// The container's name (in any pod).
    pub container: String,
    /// The waiting reason shown meanwhile.
    pub reason: String,
    /// How many tries fail; each retry comes after a back-off.
    pub times: u32,
}

/// One row of the request counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    pub verb: String,
    pub resource: String,
    pub count: u64,
}

/// The switches the kubelet, scheduler and API consult.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Image patterns (same syntax as the image map) whose pulls fail.
    pub(crate) image_pull: Vec<String>,
    /// While set, new pods are not scheduled.
    pub(crate) unschedulable: bool,
    /// `(pod uid, container)` pairs to kill as out-of-memory.
    pub(crate) oom: HashSet<(String, String)>,
    /// Bumped on every node loss; pods started under an older value are lost.
    pub(crate) node_epoch: u64,
    pub(crate) errors: Vec<ErrorInjection>,
    /// While set, the named ResourceQuota refuses every new pod.
    pub(crate) exhausted_quota: Option<String>,
    pub(crate) transient: Vec<TransientError>,
    pub(crate) counts: BTreeMap<(String, String), u64>,
}

impl Faults {
    pub(crate) fn image_pull_fails(&self, image: &str) -> bool {
        self.image_pull.iter().any(|p| image_matches(p, image))
    }

    /// Takes one failed try of `container`'s creation, if one is due: its reason.
    pub(crate) fn take_transient(&mut self, container: &str) -> Option<String> {
        let hit = self
            .transient
            .iter_mut()
            .find(|t| t.times > 0 && t.container == container)?;
        hit.times -= 1;
        let reason = hit.reason.clone();
        self.transient.retain(|t| t.times > 0);
        Some(reason)
    }

    /// Counts a request and returns the injected error code for it, if any.
    pub(crate) fn on_request(&mut self, verb: &str, resource: &str) -> Option<u16> {
        *self
            .counts
            .entry((verb.to_owned(), resource.to_owned()))
            .or_default() += 1;
        let hit = self.errors.iter_mut().find(|e| {
            e.count > 0
                && e.verb.as_deref().is_none_or(|v| v == verb)
                && e.resource.as_deref().is_none_or(|r| r == resource)
        })?;
        hit.count -= 1;
        let code = hit.code;
        self.errors.retain(|e| e.count > 0);
        Some(code)
    }

    pub(crate) fn counts(&self) -> Vec<RequestCount> {
        self.counts
            .iter()
            .map(|((verb, resource), count)| RequestCount {
                verb: verb.clone(),
                resource: resource.clone(),
                count: *count,
            })
            .collect()
    }
}
