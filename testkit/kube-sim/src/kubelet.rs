//! The kubelet: runs each pod's init containers in order, then its containers, as local process
//! groups. Images map to host binaries; volumes are host directories; container paths in args,
//! env, `workingDir` and `terminationMessagePath` are rewritten to those directories (see the
//! README for the rule). Container and pod statuses are written back like a real kubelet's.
//!
//! This file starts a task for every pod. Its parts, each using only parts listed before it:
//! - `spec`: typed views of the pod spec fields the kubelet reads;
//! - `paths`: a pod's host directory and the container-to-host path rewrite;
//! - `sources`: Secrets and ConfigMaps as files; `volumes` and `env` build on them;
//! - `status`: the pod and container status the kubelet writes;
//! - `termination`: the termination message;
//! - `task`: one pod's handle (read it, notice why it must stop, write status, record events);
//! - `pull`: image pulls with injected failures and back-off;
//! - `container`: one container's process group, from start to exit;
//! - `pod`: one pod's life, from scheduling to its final phase.

mod container;
mod env;
mod paths;
mod pod;
mod pull;
mod sources;
mod spec;
mod status;
mod task;
mod termination;
mod volumes;

use std::sync::Arc;

pub(crate) use paths::PodDir;

use crate::kinds::Kind;
use crate::object::{is_deleting, pod_finished, uid};
use crate::shared::Shared;
use crate::store::Key;
use task::PodTask;

/// Starts a task for every pod that has none; removes deleted pods that never ran.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut changed = shared.changed.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let (to_start, to_finish) = take_up(&shared);
        for key in to_finish {
            shared.store().finish_deletion(&key, None);
        }
        for (key, pod_uid) in to_start {
            tokio::spawn(pod::run(PodTask::new(shared.clone(), key, pod_uid)));
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = crate::shared::stopped(&mut shutdown) => return,
        }
    }
}

/// The pods to start (registered here as running) and the deleted pods that never ran.
fn take_up(shared: &Shared) -> (Vec<(Key, String)>, Vec<Key>) {
    // The process registry first, then the store (the one place both are held): a pod's task
    // writes its final status before it leaves the registry, so under both locks a live-looking
    // pod outside the registry has truly never been started.
    let mut to_start = Vec::new();
    let mut to_finish = Vec::new();
    let mut processes = shared.processes.lock();
    let store = shared.store();
    for key in store.keys(Some(Kind::Pod)) {
        let Some(pod) = store.by_key(&key) else {
            continue;
        };
        let pod_uid = uid(pod).to_owned();
        if pod_finished(pod) || processes.has_pod(&pod_uid) {
            continue;
        }
        if is_deleting(pod) {
            to_finish.push(key);
        } else {
            processes.add_pod(&pod_uid);
            to_start.push((key, pod_uid));
        }
    }
    (to_start, to_finish)
}
