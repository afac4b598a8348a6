//! The crate's error type and the exit code (whose fault) each failure maps to.

use std::path::PathBuf;

use proto::process::agent_init::Exit;

/// Whose fault a failure is; decides the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request itself is wrong (exit `2`, like a usage error).
    Usage,
    /// The artifact is bad: the agent's fault (exit `10`).
    Artifact,
    /// The source could not be reached or read: the infrastructure's fault (exit `11`).
    Source,
    /// Installing failed on this side, e.g. the destination is not writable (exit `12`).
    Internal,
}

impl Fault {
    /// How the process exits for this fault (the codes are the process contract's).
    pub fn exit(self) -> Exit {
        match self {
            Fault::Usage => Exit::Usage,
            Fault::Artifact => Exit::BadArtifact,
            Fault::Source => Exit::Unreachable,
            Fault::Internal => Exit::Internal,
        }
    }

    /// The process exit code documented in `agent-init --help`.
    pub fn exit_code(self) -> u8 {
        self.exit().code()
    }
}

/// Everything that can stop an install.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("source {source_text:?} is invalid: {reason}")]
    InvalidSource { source_text: String, reason: String },

    #[error("sha256 {given:?} is invalid: expected 64 hex digits")]
    InvalidDigest { given: String },

    #[error(
        "sha256 cannot be checked for directory source {path}: pass an archive or a single file"
    )]
    DigestOnDirectory { path: PathBuf },

    #[error(
        "sha256 cannot be checked for image {image}: pin the image by digest instead (oci://REPOSITORY@sha256:...)"
    )]
    DigestOnImage { image: String },

    #[error("source {source_text}: {scheme}:// sources are not supported by this build")]
    UnsupportedScheme { source_text: String, scheme: String },

    #[error("archive entry {entry:?} is refused: {reason}")]
    UnsafeEntry { entry: String, reason: String },

    #[error("archive is invalid ({format}): {reason}")]
    BadArchive {
        format: &'static str,
        reason: String,
    },

    #[error(
        "artifact exceeds the {what} limit of {limit}: raise {flag} if the artifact is legitimate"
    )]
    LimitExceeded {
        what: &'static str,
        limit: u64,
        flag: &'static str,
    },

    #[error("artifact sha256 mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },

    #[error("source {path} is unreadable: {source}")]
    SourceIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("source {path} is a {kind}: only directories and regular files can be installed")]
    SourceKind { path: PathBuf, kind: &'static str },

    #[error(
        "destination {host} is refused: only public internet addresses are reached (the operator can allow a host with --allow-hosts)"
    )]
    DestinationRefused { host: String },

    #[error(
        "local source {path} is refused: local sources must lie inside a directory the operator allows with --local-roots"
    )]
    LocalRefused { path: String },

    #[error("artifact {name} is refused: {reason}")]
    BadContent { name: String, reason: &'static str },

    #[error("download {url} failed: HTTP status {status}")]
    HttpStatus { url: String, status: u16 },

    #[error("download {url} failed: {reason}")]
    HttpTransport { url: String, reason: String },

    #[error("object store download {url} failed: {reason}")]
    ObjectStore { url: String, reason: String },

    #[error("destination {path} is not empty: pass a new or empty directory")]
    DestNotEmpty { path: PathBuf },

    #[error("destination {path} cannot be written: {reason}")]
    Dest { path: PathBuf, reason: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whose fault this failure is.
    pub fn fault(&self) -> Fault {
        match self {
            Error::InvalidSource { .. }
            | Error::InvalidDigest { .. }
            | Error::DigestOnDirectory { .. }
            | Error::DigestOnImage { .. }
            | Error::UnsupportedScheme { .. } => Fault::Usage,
            Error::UnsafeEntry { .. }
            | Error::BadArchive { .. }
            | Error::LimitExceeded { .. }
            | Error::DigestMismatch { .. }
            | Error::SourceKind { .. }
            | Error::DestinationRefused { .. }
            | Error::LocalRefused { .. }
            | Error::BadContent { .. } => Fault::Artifact,
            Error::SourceIo { .. }
            | Error::HttpStatus { .. }
            | Error::HttpTransport { .. }
            | Error::ObjectStore { .. } => Fault::Source,
            Error::DestNotEmpty { .. } | Error::Dest { .. } | Error::Io { .. } => Fault::Internal,
        }
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        self.fault().exit_code()
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn unsafe_entry(entry: &str, reason: impl Into<String>) -> Self {
        Error::UnsafeEntry {
            entry: entry.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
