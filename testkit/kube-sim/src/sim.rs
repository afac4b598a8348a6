//! The simulator's configuration, shared state and the in-process handle tests hold.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{ApiError, Error, Result};
use crate::faults::{ErrorInjection, Faults, RequestCount};
use crate::kinds::Kind;
use crate::store::{Store, uid};

/// Maps container images to host binaries.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageMapping {
    /// `registry/repo` without tag or digest (`ghcr.io/rl-arena/orchestrator`), or a glob with
    /// `*` (`*/agent-init`, `sim/*`). Matched against the image without its tag and digest, then
    /// against the full reference.
    pub pattern: String,
    /// The program that stands in for the image's entrypoint.
    pub binary: PathBuf,
}

/// How a simulator is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the API listens; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Image patterns to host binaries, first match wins.
    pub images: Vec<ImageMapping>,
    /// Where pod directories (volumes, logs, termination messages) go; a temporary directory
    /// removed with the simulator when `None`.
    pub data_dir: Option<PathBuf>,
    /// Real seconds per simulated second for TTLs, `activeDeadlineSeconds`, grace periods and
    /// image pull back-off (0.05 makes a 20 s TTL last one real second).
    pub time_scale: f64,
    /// The one node every pod is scheduled to.
    pub node_name: String,
    /// Watch events kept for resuming watches; older resource versions answer 410.
    pub history_limit: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Default namespace of the kubeconfig context.
    pub namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            images: Vec::new(),
            data_dir: None,
            time_scale: 1.0,
            node_name: "kube-sim-node".to_owned(),
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(1),
            namespace: "default".to_owned(),
        }
    }
}

impl Config {
    /// Adds an image mapping.
    pub fn image(mut self, pattern: &str, binary: impl Into<PathBuf>) -> Self {
        self.images.push(ImageMapping {
            pattern: pattern.to_owned(),
            binary: binary.into(),
        });
        self
    }

    /// Sets real seconds per simulated second.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }
}

/// State shared by the API, the controllers and the kubelet.
pub(crate) struct Shared {
    pub config: Config,
    pub data_dir: PathBuf,
    pub store: Mutex<Store>,
    pub faults: Mutex<Faults>,
    /// Bumped on every store write and fault change; controllers and pods wait on it.
    pub changed: watch::Sender<u64>,
    /// Bumped by an API restart: every open watch ends.
    pub api_epoch: watch::Sender<u64>,
    pub shutdown: watch::Sender<bool>,
    /// Process group ids of running containers, by pod uid.
    pub runtimes: Mutex<HashMap<String, Vec<i32>>>,
}

/// Resolves once shutdown was asked for.
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// Locks a mutex, recovering from a poisoned one (a panicking test thread must not wedge the
/// simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// Wakes everything that waits for changes.
    pub fn poke(&self) {
        self.changed.send_modify(|g| *g += 1);
    }

    pub fn set_image_pull_failure(&self, pattern: &str, fail: bool) {
        {
            let mut faults = self.faults();
            faults.image_pull.retain(|p| p != pattern);
            if fail {
                faults.image_pull.push(pattern.to_owned());
            }
        }
        self.poke();
    }

    pub fn set_unschedulable(&self, on: bool) {
        self.faults().unschedulable = on;
        self.poke();
    }

    pub fn oom_kill(&self, namespace: &str, pod: &str, container: &str) -> Result<(), ApiError> {
        let pod_uid = uid(&self.store().get(Kind::Pod, namespace, pod)?).to_owned();
        self.faults().oom.insert((pod_uid, container.to_owned()));
        self.poke();
        Ok(())
    }

    pub fn lose_node(&self) {
        self.faults().node_epoch += 1;
        self.poke();
    }

    pub fn restart_api(&self) {
        self.api_epoch.send_modify(|e| *e += 1);
    }

    pub fn inject_errors(&self, injection: ErrorInjection) {
        self.faults().errors.push(injection);
    }

    pub fn compact(&self) {
        self.store().compact();
    }

    /// Kills every container process group (SIGKILL).
    pub fn kill_all(&self) {
        for pgid in lock(&self.runtimes).values().flatten() {
            crate::kubelet::kill_group(*pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// A running simulator in this process. Dropping it stops the API and kills every container.
pub struct Sim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    kubeconfig: PathBuf,
    tasks: Vec<JoinHandle<()>>,
    /// Keeps the temporary data directory alive.
    _tmp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("addr", &self.addr).finish()
    }
}

impl Sim {
    /// Starts the API server, the controllers and the kubelet on the current tokio runtime.
    pub async fn start(config: Config) -> Result<Sim> {
        let (tmp, data_dir) = match &config.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("kube-sim-")
                    .tempdir()
                    .map_err(|source| Error::Io {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                let dir = tmp.path().to_path_buf();
                (Some(tmp), dir)
            }
        };
        std::fs::create_dir_all(&data_dir).map_err(|source| Error::Io {
            path: data_dir.clone(),
            source,
        })?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
        let (changed, _) = watch::channel(0);
        let (api_epoch, _) = watch::channel(0);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(config.history_limit, changed.clone())),
            config,
            data_dir: data_dir.clone(),
            faults: Mutex::new(Faults::default()),
            changed,
            api_epoch,
            shutdown,
            runtimes: Mutex::new(HashMap::new()),
        });
        let url = format!("http://{addr}");
        let kubeconfig = data_dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            crate::kubeconfig::render(&url, &shared.config.namespace),
        )
        .map_err(|source| Error::Io {
            path: kubeconfig.clone(),
            source,
        })?;
        let mut stop = shared.shutdown.subscribe();
        let app = crate::http::router(shared.clone());
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                stopped(&mut stop).await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "kube-sim api server failed");
            }
        });
        let controller = tokio::spawn(crate::controller::run(shared.clone()));
        let kubelet = tokio::spawn(crate::kubelet::run(shared.clone()));
        tracing::info!(%url, data_dir = %data_dir.display(), "kube-sim started");
        Ok(Sim {
            shared,
            addr,
            kubeconfig,
            tasks: vec![server, controller, kubelet],
            _tmp: tmp,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig file pointing at this simulator (written at start, in the data dir).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig text with `namespace` as the default namespace.
    pub fn kubeconfig_yaml(&self, namespace: &str) -> String {
        crate::kubeconfig::render(&self.url(), namespace)
    }

    /// Where pod directories live.
    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    /// Makes pulls of images matching `pattern` fail (`ErrImagePull`, then `ImagePullBackOff`)
    /// until [`Sim::clear_image_pull_failure`].
    pub fn fail_image_pull(&self, pattern: &str) {
        self.shared.set_image_pull_failure(pattern, true);
    }

    pub fn clear_image_pull_failure(&self, pattern: &str) {
        self.shared.set_image_pull_failure(pattern, false);
    }

    /// While on, new pods stay Pending with `PodScheduled=False` reason `Unschedulable`.
    pub fn set_unschedulable(&self, on: bool) {
        self.shared.set_unschedulable(on);
    }

    /// Kills a running container with SIGKILL and reports it `OOMKilled` (exit 137).
    pub fn oom_kill(&self, namespace: &str, pod: &str, container: &str) -> Result<()> {
        Ok(self.shared.oom_kill(namespace, pod, container)?)
    }

    /// Loses the node: every pod on it is killed and fails with reason `NodeLost` and a
    /// `DisruptionTarget` condition. Pods created afterwards run on the replacement node.
    pub fn lose_node(&self) {
        self.shared.lose_node();
    }

    /// Simulates an API server restart: every open watch ends; state is kept.
    pub fn restart_api(&self) {
        self.shared.restart_api();
    }

    /// Answers the next matching requests with an error status.
    pub fn inject_errors(&self, injection: ErrorInjection) {
        self.shared.inject_errors(injection);
    }

    /// Forgets the watch history: watches and exact lists from older versions get 410.
    pub fn compact(&self) {
        self.shared.compact();
    }

    /// Requests served so far, by verb and resource (`pods/status` for subresources).
    pub fn request_counts(&self) -> Vec<RequestCount> {
        self.shared.faults().counts()
    }

    /// Requests served for one verb and resource.
    pub fn request_count(&self, verb: &str, resource: &str) -> u64 {
        self.shared
            .faults()
            .counts
            .get(&(verb.to_owned(), resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_request_counts(&self) {
        self.shared.faults().counts.clear();
    }

    /// The current global resource version.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().rv()
    }

    /// Stops the API, the controllers and every container.
    pub async fn shutdown(mut self) {
        self.stop();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    fn stop(&self) {
        self.shared.shutdown.send_replace(true);
        self.shared.kill_all();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
        for task in &self.tasks {
            task.abort();
        }
    }
}
