//! How a simulator is set up: listen address, image map, data directory, time scale, node name
//! and watch history.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::images::{ImageFile, ImageMapping};

/// How a simulator is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the API listens; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Image patterns to host binaries, first match wins.
    pub images: Vec<ImageMapping>,
    /// Host files and directories that stand for what images hold; an image with files and no binary
    /// is pulled all the same (its containers run a program of a volume or of the image).
    pub image_files: Vec<ImageFile>,
    /// Whether containers run as their `runAsUser` and `runAsGroup` (the container's, else the pod's),
    /// without supplementary groups. Needs the simulator to run as root; pod directories are then
    /// searchable by every user, as a node's are.
    pub run_as_users: bool,
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
            image_files: Vec::new(),
            run_as_users: false,
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

    /// Adds a file (or directory) that images matching `pattern` hold at `path`, from `host`.
    pub fn image_file(mut self, pattern: &str, path: &str, host: impl Into<PathBuf>) -> Self {
        self.image_files.push(ImageFile {
            pattern: pattern.to_owned(),
            path: path.to_owned(),
            host: host.into(),
        });
        self
    }

    /// Runs containers as their pods' users (see [`Config::run_as_users`]).
    pub fn run_as_users(mut self, enabled: bool) -> Self {
        self.run_as_users = enabled;
        self
    }

    /// Sets real seconds per simulated second.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }
}
