//! The RL Arena executor: the gRPC service that validates match requests, plays them on a backend and stores
//! their replays and results.
//!
//! - [`config`]: flags, environment and config file.
//! - [`server`]: assembles the gRPC and HTTP servers and drains on shutdown; [`http`]: metrics, health and
//!   replay downloads.
//! - [`service`]: the `executor.Executor` handlers over [`matches::Matches`], the life of matches (submission,
//!   idempotency, the task per match, cancellation); [`live`]: a queued or running match and its watchers.
//! - [`request`]: request validation into a [`request::MatchPlan`]; [`validate`]: `ValidateAgent`;
//!   [`environments`]: `ListEnvironments`.
//! - [`admission`]: concurrency limit and bounded queue.
//! - [`backend`]: where matches run ([`backend::local`]: child processes).
//! - [`reporter`]: the `executor.MatchReporter` service receiving orchestrator event streams.
//! - [`blob_store`], [`replay_store`], [`result_store`] and [`viewer`]: stored replays (JSON and HTML viewer)
//!   and results, by URL.
//! - [`metrics`]: Prometheus metrics; [`telemetry`]: logging; [`play`]: the `executor play` command.

pub mod admission;
pub mod backend;
pub mod blob_store;
pub mod config;
pub mod environments;
pub mod error;
pub mod http;
pub mod live;
pub mod matches;
pub mod metrics;
pub mod play;
pub mod replay_store;
pub mod reporter;
pub mod request;
pub mod result_store;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod validate;
pub mod viewer;

pub use error::{Error, Result};
