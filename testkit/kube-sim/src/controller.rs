//! The control plane loops, run on every change and on a short tick for timers. Parts:
//! - `failure_policy`: what a failed pod means for its Job under `podFailurePolicy`;
//! - `job`: the Job controller (one pod per Job, status from pod phases, `backoffLimit`,
//!   `activeDeadlineSeconds`, `suspend`, terminal conditions after the pods are gone, pod creation
//!   refused by quota) and TTL-after-finished;
//! - `gc`: the garbage collector (ownerReferences, foreground deletion).

mod failure_policy;
mod gc;
mod job;

use std::sync::Arc;
use std::time::Duration;

use crate::shared::{Shared, stopped};

/// How often timers (deadlines, TTLs) are checked when nothing else changes.
const TICK: Duration = Duration::from_millis(20);

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut changed = shared.changed.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        {
            let quota = shared.faults().exhausted_quota.clone();
            let cx = job::Conditions {
                scale: shared.config.time_scale,
                exhausted_quota: quota.as_deref(),
            };
            let mut store = shared.store();
            job::reconcile_jobs(&mut store, &cx);
            gc::collect_garbage(&mut store);
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped(&mut shutdown) => return,
        }
    }
}
