//! Image pulls: an image is pulled when the image map names a binary for it and no injected
//! failure matches it; otherwise the container waits in `ErrImagePull`, then `ImagePullBackOff`,
//! and the pull is retried after a back-off.

use std::path::PathBuf;

use tokio::sync::watch;

use super::status::{self, Which};
use super::task::{Interrupt, PodTask};
use crate::images::binary_for;
use crate::time::scaled;

/// Simulated seconds between image pull retries.
const PULL_BACKOFF_SECONDS: f64 = 2.0;

/// The binary that stands in for `image`, once the pull succeeds.
pub(crate) async fn pull(
    task: &PodTask,
    changed: &mut watch::Receiver<u64>,
    which: Which,
    container: &str,
    image: &str,
) -> Result<PathBuf, Interrupt> {
    let backoff = scaled(PULL_BACKOFF_SECONDS, task.shared.config.time_scale);
    let mut failures = 0u32;
    loop {
        if let Some(i) = task.check() {
            return Err(i);
        }
        let mapped = binary_for(&task.shared.config.images, image).map(PathBuf::from);
        let injected = task.shared.faults().image_pull_fails(image);
        let why = match mapped {
            Some(binary) if !injected => return Ok(binary),
            _ if injected => "kube-sim: injected pull failure",
            _ => "kube-sim: no binary is mapped to this image",
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
