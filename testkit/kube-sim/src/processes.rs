//! The process groups of running containers, by pod uid: the kubelet records them, and stopping
//! the simulator or losing a pod kills them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Sends `signal` to a whole process group; a group that is already gone is fine.
pub(crate) fn kill_group(pgid: i32, signal: Signal) {
    let _ = nix::sys::signal::killpg(Pid::from_raw(pgid), signal);
}

/// Every pod the kubelet runs, with the process groups of its running containers.
#[derive(Debug, Default)]
pub(crate) struct ProcessGroups(Mutex<HashMap<String, Vec<i32>>>);

impl ProcessGroups {
    /// Locks the registry, recovering from a poisoned lock like every lock here.
    pub(crate) fn lock(&self) -> Registry<'_> {
        Registry(self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Kills every container process group (SIGKILL).
    pub(crate) fn kill_all(&self) {
        for pgid in self.lock().0.values().flatten() {
            kill_group(*pgid, Signal::SIGKILL);
        }
    }
}

/// The locked registry.
pub(crate) struct Registry<'a>(MutexGuard<'a, HashMap<String, Vec<i32>>>);

impl Registry<'_> {
    /// Whether a task runs the pod.
    pub(crate) fn has_pod(&self, pod_uid: &str) -> bool {
        self.0.contains_key(pod_uid)
    }

    /// Records that a task runs the pod, before any container starts.
    pub(crate) fn add_pod(&mut self, pod_uid: &str) {
        self.0.insert(pod_uid.to_owned(), Vec::new());
    }

    /// Forgets a pod whose task has ended.
    pub(crate) fn remove_pod(&mut self, pod_uid: &str) {
        self.0.remove(pod_uid);
    }

    /// The process groups of the pod's running containers.
    pub(crate) fn groups(&self, pod_uid: &str) -> Vec<i32> {
        self.0.get(pod_uid).cloned().unwrap_or_default()
    }

    pub(crate) fn add_group(&mut self, pod_uid: &str, pgid: i32) {
        if let Some(list) = self.0.get_mut(pod_uid) {
            list.push(pgid);
        }
    }

    pub(crate) fn remove_group(&mut self, pod_uid: &str, pgid: i32) {
        if let Some(list) = self.0.get_mut(pod_uid) {
            list.retain(|p| *p != pgid);
        }
    }
}
