//! How a simulator is set up: listen address, image map, data directory, time scale, node name
//! and watch history.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::images::ImageMapping;

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
