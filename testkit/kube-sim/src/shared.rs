//! The state that the API, the controllers and the kubelet share: configuration, the object
//! store, fault switches, the change signal everything waits on, and running process groups.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::config::Config;
use crate::error::ApiError;
use crate::faults::{ErrorInjection, Faults, TransientError};
use crate::kinds::Kind;
use crate::object::uid;
use crate::processes::ProcessGroups;
use crate::store::Store;

/// State shared by the API, the controllers and the kubelet.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// The data directory in use (the configured one or a temporary one).
    pub(crate) data_dir: PathBuf,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<Faults>,
    /// Bumped on every store write and fault change; controllers and pods wait on it.
    pub(crate) changed: watch::Sender<u64>,
    /// Bumped by an API restart: every open watch ends.
    pub(crate) api_epoch: watch::Sender<u64>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Process groups of running containers, by pod uid.
    pub(crate) processes: ProcessGroups,
}

/// Resolves once shutdown was asked for.
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// Locks a mutex, recovering from a poisoned one (a panicking test thread must not wedge the
/// simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Shared state over a fresh store.
    pub(crate) fn new(config: Config, data_dir: PathBuf) -> Shared {
        let (changed, _) = watch::channel(0);
        let (api_epoch, _) = watch::channel(0);
        let (shutdown, _) = watch::channel(false);
        Shared {
            store: Mutex::new(Store::new(config.history_limit, changed.clone())),
            config,
            data_dir,
            faults: Mutex::new(Faults::default()),
            changed,
            api_epoch,
            shutdown,
            processes: ProcessGroups::default(),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// Wakes everything that waits for changes.
    pub(crate) fn poke(&self) {
        self.changed.send_modify(|g| *g += 1);
    }

    pub(crate) fn set_image_pull_failure(&self, pattern: &str, fail: bool) {
        {
            let mut faults = self.faults();
            faults.image_pull.retain(|p| p != pattern);
            if fail {
                faults.image_pull.push(pattern.to_owned());
            }
        }
        self.poke();
    }

    pub(crate) fn set_exhausted_quota(&self, quota: Option<&str>) {
        self.faults().exhausted_quota = quota.map(str::to_owned);
        self.poke();
    }

    pub(crate) fn add_transient_error(&self, error: TransientError) {
        self.faults().transient.push(error);
        self.poke();
    }

    pub(crate) fn set_unschedulable(&self, on: bool) {
        self.faults().unschedulable = on;
        self.poke();
    }

    pub(crate) fn oom_kill(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<(), ApiError> {
        let pod_uid = uid(&self.store().get(Kind::Pod, namespace, pod)?).to_owned();
        self.faults().oom.insert((pod_uid, container.to_owned()));
        self.poke();
        Ok(())
    }

    pub(crate) fn lose_node(&self) {
        self.faults().node_epoch += 1;
        self.poke();
    }

    pub(crate) fn restart_api(&self) {
        self.api_epoch.send_modify(|e| *e += 1);
    }

    pub(crate) fn inject_errors(&self, injection: ErrorInjection) {
        self.faults().errors.push(injection);
    }

    pub(crate) fn compact(&self) {
        self.store().compact();
    }

    /// Stops every loop and kills every container process group.
    pub(crate) fn stop(&self) {
        self.shutdown.send_replace(true);
        self.processes.kill_all();
    }
}
