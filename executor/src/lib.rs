//! The RL Arena executor: the gRPC service that validates match requests, plays them on a backend (local
//! child processes or Kubernetes Jobs) and stores their replays and results.
//!
//! - [`config`]: flags, environment and config file (logging is set up by `common::telemetry`).
//! - [`server`]: assembles the gRPC and HTTP servers and drains on shutdown; `connections`: the limits on
//!   both listeners' connections; `http`: metrics, health and replay downloads.
//! - `service`: the `executor.Executor` handlers, the edge where wire messages become domain calls (`convert`
//!   maps the executor's domain types, `info` and `live`, to the wire and back).
//! - `matches`: the life of matches (submission, idempotency, the task per match, cancellation, drain);
//!   `live`: a queued or running match and its watchers; `info`: what the executor tells about a match.
//! - [`request`]: request rules (match id, fingerprint, validation into a [`request::MatchPlan`], environments
//!   from the `envs` crate);
//!   `agent_sources`: where agents may come from (local code roots, hosts allowed to `agent-init`); `validate`:
//!   `ValidateAgent` (through `agent-init` and `orchestrator check-agent`); `environments`: `ListEnvironments`.
//! - `admission`: concurrency limit and bounded queue.
//! - [`backend`]: where matches run, behind one interface: `backend::local` (child processes, with
//!   `agent_init` and `process`) or [`backend::kubernetes`] (one Job per match, watched, reconciled).
//! - [`reporter`]: the `executor.MatchReporter` service receiving orchestrator event streams.
//! - `recorder`: the one owner of finished matches (replays and results, for both backends), over `blob_store`,
//!   `replay_store`, `result_store` and [`viewer`] (the replay viewer page); `replay_spool`: the replay copy a
//!   report stream carries.
//! - `metrics`: Prometheus metrics; [`play`]: the `executor play` command.

mod admission;
mod agent_init;
mod agent_sources;
pub mod backend;
mod blob_store;
pub mod config;
mod connections;
mod convert;
mod environments;
pub mod error;
mod http;
mod info;
mod live;
mod matches;
mod metrics;
pub mod play;
mod process;
mod recorder;
mod replay_spool;
mod replay_store;
pub mod reporter;
pub mod request;
mod result_store;
pub mod server;
mod service;
mod validate;
pub mod viewer;

pub use error::{Error, Result};
