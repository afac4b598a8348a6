//! One pod's task handle: its key, uid and host directory, and how it reads the pod, notices
//! why it must stop, writes status and records events.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::paths::PodDir;
use super::status::Which;
use crate::events::record_event;
use crate::kinds::Kind;
use crate::object::{is_deleting, uid};
use crate::shared::Shared;
use crate::store::Key;

/// How often a waiting pod re-checks its world when nothing pokes it.
pub(crate) const RECHECK: Duration = Duration::from_millis(200);

/// Why a pod stops early.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Interrupt {
    /// Deleted: SIGTERM, then SIGKILL after the grace period (simulated seconds).
    Deleted(f64),
    /// The object is gone (force deletion): kill now.
    Gone,
    NodeLost,
    Shutdown,
}

pub(crate) struct PodTask {
    pub(crate) shared: Arc<Shared>,
    pub(crate) key: Key,
    pub(crate) uid: String,
    pub(crate) dir: PodDir,
    /// The node epoch the pod started under; a node loss bumps it.
    epoch: u64,
}

impl PodTask {
    pub(crate) fn new(shared: Arc<Shared>, key: Key, pod_uid: String) -> PodTask {
        let epoch = shared.faults().node_epoch;
        let dir = PodDir::new(&shared.data_dir, &key.1, &key.2, &pod_uid);
        PodTask {
            shared,
            key,
            uid: pod_uid,
            dir,
            epoch,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.key.2
    }

    /// The pod, unless it is gone or was replaced by one of the same name.
    pub(crate) fn pod(&self) -> Option<Value> {
        self.shared
            .store()
            .by_key(&self.key)
            .filter(|p| uid(p) == self.uid)
            .cloned()
    }

    /// Why the pod must stop now, if it must.
    pub(crate) fn check(&self) -> Option<Interrupt> {
        if *self.shared.shutdown.borrow() {
            return Some(Interrupt::Shutdown);
        }
        let Some(pod) = self.pod() else {
            return Some(Interrupt::Gone);
        };
        if is_deleting(&pod) {
            let grace = pod
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_f64)
                .unwrap_or(30.0);
            return Some(Interrupt::Deleted(grace));
        }
        if self.shared.faults().node_epoch != self.epoch {
            return Some(Interrupt::NodeLost);
        }
        None
    }

    /// Waits for a change, at most `at_most`.
    pub(crate) async fn wait(&self, changed: &mut watch::Receiver<u64>, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, changed.changed()).await;
    }

    /// Changes the pod's status; a pod that is gone is left alone.
    pub(crate) fn set_status(&self, change: impl FnOnce(&mut Value)) {
        let mut store = self.shared.store();
        if store.by_key(&self.key).is_some_and(|p| uid(p) == self.uid) {
            let _ = store.mutate(&self.key, |pod| {
                if !pod.get("status").is_some_and(Value::is_object) {
                    pod["status"] = json!({});
                }
                change(&mut pod["status"]);
            });
        }
    }

    /// Changes the status of one container.
    pub(crate) fn set_container(&self, which: Which, name: &str, change: impl FnOnce(&mut Value)) {
        self.set_status(|status| {
            if let Some(entry) = status
                .get_mut(which.list())
                .and_then(Value::as_array_mut)
                .and_then(|l| l.iter_mut().find(|c| c["name"] == json!(name)))
            {
                change(entry);
            }
        });
    }

    /// Records an Event about the pod from the kubelet.
    pub(crate) fn event(&self, warning: bool, reason: &str, message: &str) {
        let mut store = self.shared.store();
        if let Some(pod) = store.by_key(&self.key).cloned() {
            record_event(
                &mut store,
                &pod,
                Kind::Pod,
                warning,
                reason,
                message,
                "kubelet",
            );
        }
    }
}
