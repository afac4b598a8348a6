//! The executor's error type and its mapping to gRPC status codes.

use tonic::Status;

/// Everything that can go wrong in the executor's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong; the message names the field and the fix.
    #[error("{0}")]
    InvalidArgument(String),
    /// A match with this id is already being played.
    #[error("match {0:?} is already running; wait for its result or use another match_id")]
    AlreadyRunning(String),
    /// Too many matches are running and waiting.
    #[error(
        "executor is at capacity: {running} matches running and {queued} waiting (limits {max_running} and {max_queued}); retry later"
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

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::InvalidArgument(_) => Status::invalid_argument(message),
            Error::AlreadyRunning(_) => Status::already_exists(message),
            Error::Exhausted { .. } => Status::resource_exhausted(message),
            Error::ShuttingDown => Status::unavailable(message),
            Error::MissingBinary { .. } => Status::failed_precondition(message),
            Error::Io { .. } | Error::Internal(_) => Status::internal(message),
        }
    }
}
