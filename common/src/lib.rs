//! What the workspace's binaries do the same way, in one place each; no domain logic lives here.
//!
//! - [`roots`]: local paths confined to directories an operator lists (resolved, links followed, the same
//!   answer for a path outside whether or not it exists).
//! - [`text`]: cutting text for messages at a character boundary.
//! - [`telemetry`]: the logging set-up of every binary.
//! - [`signal`]: the SIGTERM / SIGINT shutdown future.

pub mod roots;
pub mod signal;
pub mod telemetry;
pub mod text;
