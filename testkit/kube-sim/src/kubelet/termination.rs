//! The termination message of a container: the file at `terminationMessagePath`, cut to 4096
//! bytes as the kubelet does, or with `FallbackToLogsOnError` the log tail of a failed container
//! that wrote none.

use std::path::Path;

/// Termination messages are cut to this many bytes.
const MESSAGE_LIMIT: usize = 4096;
/// The log bytes, then lines, that the fallback reads.
const FALLBACK_BYTES: usize = 2048;
const FALLBACK_LINES: usize = 80;

/// The message of a container that exited with `exit_code`.
pub(crate) fn message(file: &Path, log: &Path, policy: Option<&str>, exit_code: i32) -> String {
    let message = read_capped(file, MESSAGE_LIMIT);
    if message.is_empty() && policy == Some("FallbackToLogsOnError") && exit_code != 0 {
        return tail_lines(&read_tail(log, FALLBACK_BYTES), FALLBACK_LINES);
    }
    message
}

/// At most `limit` bytes of the file, cut at a character boundary.
fn read_capped(path: &Path, limit: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut end = bytes.len().min(limit);
    while end > 0 && std::str::from_utf8(&bytes[..end]).is_err() {
        end -= 1;
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn read_tail(path: &Path, limit: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(limit);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
