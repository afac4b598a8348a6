//! The executor's error type and its mapping to gRPC status codes.

use tonic::Status;

/// Everything that can go wrong in the executor's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong; the message names the field and the fix.
    #[error("{0}")]
    InvalidArgument(String),
    /// The match id is taken by a different request.
    #[error("{0}")]
    Conflict(String),
    /// No match with this id is known.
    #[error("{0}")]
    NotFound(String),
    /// Too many matches are running and waiting.
    #[error(
        "executor is at capacity: {running} matches running and {queued} waiting (limits {max_running} and \
         {max_queued}); retry in a few seconds or on another replica"
    )]
    Exhausted {
        running: usize,
        queued: usize,
        max_running: usize,
        max_queued: usize,
    },
    /// The executor is shutting down and takes no new matches.
    #[error("executor is shutting down; send the request to another replica")]
    ShuttingDown,
    /// A helper binary is missing.
    #[error(
        "{name} binary not found at {path}; build the workspace (cargo build --workspace) or set {env}"
    )]
    MissingBinary {
        name: &'static str,
        path: String,
        env: &'static str,
    },
    /// The configuration is inconsistent; found at start-up.
    #[error("configuration: {0}")]
    InvalidConfig(String),
    /// A dependency (such as the Kubernetes API) is unavailable for now; retrying may help.
    #[error("{0}")]
    Unavailable(String),
    /// The replay or result store failed.
    #[error("store: {0}")]
    Store(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Something inside the executor failed; not the caller's fault.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Characters of a request's own text (an id, a URL, a name) that an error message quotes at most.
const QUOTED_CHARS: usize = 96;
/// Longest message a gRPC status carries: it travels in a header, and an error must never be refused for its
/// own size.
const STATUS_MESSAGE_BYTES: usize = 2048;

/// `text` quoted and escaped for an error message; a long text is cut to its first [`QUOTED_CHARS`]
/// characters, with its length said.
pub(crate) fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}... ({} bytes)", &text[..end], text.len()),
    }
}

/// `message` cut to at most [`STATUS_MESSAGE_BYTES`] bytes, at a character boundary, marked when cut.
fn bounded(mut message: String) -> String {
    const MARK: &str = " [...]";
    if message.len() > STATUS_MESSAGE_BYTES {
        let mut end = STATUS_MESSAGE_BYTES - MARK.len();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(MARK);
    }
    message
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let message = bounded(err.to_string());
        match err {
            Error::InvalidArgument(_) => Status::invalid_argument(message),
            Error::Conflict(_) => Status::already_exists(message),
            Error::NotFound(_) => Status::not_found(message),
            Error::Exhausted { .. } => Status::resource_exhausted(message),
            Error::ShuttingDown | Error::Store(_) | Error::Unavailable(_) => {
                Status::unavailable(message)
            }
            Error::MissingBinary { .. } | Error::InvalidConfig(_) => {
                Status::failed_precondition(message)
            }
            Error::Io { .. } | Error::Internal(_) => Status::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_cut_and_say_the_length() {
        assert_eq!(quoted("m-1"), "\"m-1\"");
        let long = "é".repeat(50_000);
        let q = quoted(&long);
        assert!(q.len() < 300, "{q}");
        assert!(q.ends_with("... (100000 bytes)"), "{q}");
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn status_messages_are_bounded() {
        let status = Status::from(Error::InvalidArgument("x".repeat(100_000)));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().len() <= STATUS_MESSAGE_BYTES);
        assert!(status.message().ends_with("[...]"));
        let short = Status::from(Error::NotFound("no match".into()));
        assert_eq!(short.message(), "no match");
    }
}
