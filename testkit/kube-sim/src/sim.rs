//! The in-process handle tests hold: [`Sim::start`] serves the API and runs the controllers and
//! the kubelet on the current tokio runtime; its methods switch faults and read request counts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::faults::{ErrorInjection, RequestCount, TransientError};
use crate::shared::{Shared, stopped};

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
        let (tmp, data_dir) = data_dir(&config)?;
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
        let shared = Arc::new(Shared::new(config, data_dir.clone()));
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
        let server = tokio::spawn(serve(listener, shared.clone()));
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

    /// While `Some(name)`, the ResourceQuota `name` refuses every new pod: the Job controller records
    /// a `FailedCreate` warning (`exceeded quota: name, ...`) and tries again after a back-off.
    pub fn exhaust_quota(&self, quota: Option<&str>) {
        self.shared.set_exhausted_quota(quota);
    }

    /// Makes the creation of a container fail `times` times in a reason the kubelet retries (as on a
    /// fresh node), each shown as its waiting reason with a `Failed` event, before it starts.
    pub fn transient_container_error(&self, error: TransientError) {
        self.shared.add_transient_error(error);
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
        self.shared.stop();
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

/// The configured data directory, or a temporary one (returned to be kept alive), created.
fn data_dir(config: &Config) -> Result<(Option<tempfile::TempDir>, PathBuf)> {
    let (tmp, dir) = match &config.data_dir {
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
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    Ok((tmp, dir))
}

/// Serves the API until shutdown.
async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    let app = crate::http::router(shared);
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        stopped(&mut stop).await;
    });
    if let Err(error) = serve.await {
        tracing::error!(%error, "kube-sim api server failed");
    }
}
