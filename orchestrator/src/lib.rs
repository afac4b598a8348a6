//! The match orchestrator: plays one match inside its pod or as a local child process of the executor.
//!
//! - [`envs`]: the games and their catalog.

pub mod envs;
