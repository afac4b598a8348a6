//! What the executor says about a child process it ran: how it ended, and how much of its log is quoted.

use std::process::ExitStatus;

/// How much of a helper's log is quoted in an error message.
pub(crate) const LOG_TAIL_BYTES: usize = 2048;

/// An exit status in words: its exit code or the signal that killed it.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}
