//! The termination message of a container, as the kubelet makes it: the last 4096 bytes of the
//! file at `terminationMessagePath` (or, with `FallbackToLogsOnError`, the log tail of a failed
//! container that wrote none), then at most the container's share of the pod's 12 KiB (split
//! evenly across init containers and containers), keeping the first bytes of that.

use std::path::Path;

/// The kubelet reads at most this many bytes, the last ones, of a termination message file.
const MESSAGE_LIMIT: usize = 4096;
/// Termination message bytes a whole pod may report, split evenly across its containers.
const POD_LIMIT: usize = 12 * 1024;
/// The log bytes, then lines, that the fallback reads.
const FALLBACK_BYTES: usize = 2048;
const FALLBACK_LINES: usize = 80;

/// The message of a container that exited with `exit_code`, in a pod of `containers` containers.
pub(crate) fn message(
    file: &Path,
    log: &Path,
    policy: Option<&str>,
    exit_code: i32,
    containers: usize,
) -> String {
    let mut message = read_tail(file, MESSAGE_LIMIT);
    if message.is_empty() && policy == Some("FallbackToLogsOnError") && exit_code != 0 {
        message = tail_lines(&read_tail(log, FALLBACK_BYTES), FALLBACK_LINES);
    }
    head(message, POD_LIMIT / containers.max(1))
}

/// The first `limit` bytes of `text`, cut at a character boundary.
fn head(mut text: String, limit: usize) -> String {
    text.truncate(common::text::head(&text, limit).len());
    text
}

/// The last `limit` bytes of a file (a character cut at the start becomes U+FFFD).
fn read_tail(path: &Path, limit: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(limit);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
