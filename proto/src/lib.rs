//! Contracts between the parts of RL Arena Executor.
//!
//! - [`pb`]: the gRPC services and messages generated from `proto/*.proto` (`executor.Executor`, the backend's
//!   wire contract, and `executor.MatchReporter`, the orchestrator's report stream).
//! - [`spec`]: the match spec the executor writes and the orchestrator reads.
//! - [`outcome`]: the result of a match, as the orchestrator writes it to its result file and report stream.
//! - [`replay`]: the versioned replay document (version 2 written, versions 1 and 2 read).
//! - [`ids`]: the rules for match ids; [`image`]: the grammar of OCI image references.
//! - `seed`: seeds as decimal strings in documents that browsers read.
//! - [`convert`]: mapping between the domain types above and the wire messages.
//! - [`process`]: the command lines and exit codes of `agent-init` and `orchestrator`, as types.
//!
//! `pb` and `convert` come with the `grpc` feature (on by default); the rest needs no gRPC.

#[cfg(feature = "grpc")]
pub mod convert;
pub mod ids;
pub mod image;
pub mod outcome;
pub mod process;
pub mod replay;
mod seed;
pub mod spec;

/// Generated protobuf messages and tonic services of package `executor`.
#[cfg(feature = "grpc")]
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("executor");

    /// Encoded `FileDescriptorSet` of every contract file, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/executor_descriptor.bin"));
}

/// Metadata key that carries a match's report token on `MatchReporter` calls.
pub const TOKEN_METADATA_KEY: &str = "authorization";

/// Errors of the contract crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid match spec: {0}")]
    InvalidSpec(String),
    #[error("not a replay document: {0}")]
    Replay(#[source] serde_json::Error),
    #[error("replay schema version {found} is not supported; versions 1 and 2 can be read")]
    ReplayVersion { found: u64 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
