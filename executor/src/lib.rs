//! The RL Arena executor: the gRPC service that validates match requests, plays them on a backend and stores
//! their replays.
//!
//! - [`config`]: command line and environment configuration.
//! - [`server`]: assembles the gRPC server; [`service`]: the `executor.Executor` handlers and the [`service::Core`].
//! - [`request`]: request validation into a [`request::MatchPlan`]; [`validate`]: `ValidateAgent`.
//! - [`admission`]: concurrency limit, queue and duplicate match ids.
//! - [`backend`]: where matches run ([`backend::local`]: child processes).
//! - [`reporter`]: the `executor.MatchReporter` service receiving orchestrator event streams.
//! - [`replay_store`] and [`viewer`]: stored replays and their HTML viewer.
//! - [`play`]: the `executor play` command; [`telemetry`]: logging.

pub mod admission;
pub mod backend;
pub mod config;
pub mod error;
pub mod play;
pub mod replay_store;
pub mod reporter;
pub mod request;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod validate;
pub mod viewer;

pub use error::{Error, Result};
