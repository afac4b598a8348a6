//! What the executor says about a child process it ran: how it ended and the tail of what it logged.

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

/// The last `max` bytes of `text`, cut at a character boundary.
pub(crate) fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
