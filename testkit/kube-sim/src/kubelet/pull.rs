//! Image pulls: an image is pulled when the image map names a binary or files for it and no
//! injected failure matches it; otherwise the container waits in `ErrImagePull`, then
//! `ImagePullBackOff`, and the pull is retried after a back-off.

use std::path::PathBuf;

use tokio::sync::watch;

use super::status::{self, Which};
use super::task::{Interrupt, PodTask};
use crate::images::{binary_for, files_for};
use crate::time::scaled;

/// Simulated seconds between image pull retries.
const PULL_BACKOFF_SECONDS: f64 = 2.0;

/// What a pulled image holds.
#[derive(Debug)]
pub(crate) struct Pulled {
    /// The binary that stands in for its entrypoint, if it has one.
    pub(crate) binary: Option<PathBuf>,
    /// Its files: (path in the image, host path).
    pub(crate) files: Vec<(String, PathBuf)>,
}

/// What `image` holds, once the pull succeeds.
pub(crate) async fn pull(
    task: &PodTask,
    changed: &mut watch::Receiver<u64>,
    which: Which,
    container: &str,
    image: &str,
) -> Result<Pulled, Interrupt> {
    let backoff = scaled(PULL_BACKOFF_SECONDS, task.shared.config.time_scale);
    let mut failures = 0u32;
    loop {
        if let Some(i) = task.check() {
            return Err(i);
        }
        let config = &task.shared.config;
        let pulled = Pulled {
            binary: binary_for(&config.images, image).map(PathBuf::from),
            files: files_for(&config.image_files, image),
        };
        let injected = task.shared.faults().image_pull_fails(image);
        let known = pulled.binary.is_some() || !pulled.files.is_empty();
        let why = if injected {
            "kube-sim: injected pull failure"
        } else if known {
            return Ok(pulled);
        } else {
            "kube-sim: no binary or file is mapped to this image"
        };
        failures += 1;
        // The first failure and the first back-off are reported; later retries are quiet.
        match failures {
            1 => {
                let message = format!("Failed to pull image \"{image}\": {why}");
                report(task, which, container, "ErrImagePull", "Failed", &message);
            }
            2 => {
                let message = format!("Back-off pulling image \"{image}\"");
                report(
                    task,
                    which,
                    container,
                    "ImagePullBackOff",
                    "BackOff",
                    &message,
                );
            }
            _ => {}
        }
        task.wait(changed, backoff).await;
    }
}

fn report(
    task: &PodTask,
    which: Which,
    container: &str,
    waiting: &str,
    event: &str,
    message: &str,
) {
    task.set_container(which, container, |st| {
        st["state"] = status::waiting(waiting, Some(message));
    });
    task.event(true, event, message);
}
