//! `agent-init`: fetches one agent artifact and installs it into a directory, atomically and safely.
//!
//! Parts:
//! - [`source`]: what `--source` names (local path, `file://`, `http(s)://`, object stores, `oci://`);
//! - [`destination`]: which network destinations a source may reach (public, or `--allow-hosts`);
//! - `local`: local sources confined to `--local-roots`, read through descriptors without links;
//! - [`http`]: downloads with timeouts, bounded redirects and retries;
//! - [`object`]: `s3://`, `gs://`, `az://` objects with the environment's credentials;
//! - [`oci`]: `oci://` images: manifest, platform, layers with whiteouts, one directory kept;
//! - `proxy`: the egress proxy through which the registry client connects, checking each hop;
//! - [`archive`]: format detection and the zip / tar / tar.gz / tar.zst readers;
//! - `extract`: the only code that writes agent files, confined to one root;
//! - [`install`]: staging beside the destination, digest check, unwrap, atomic rename;
//! - [`limits`]: bounds on size, entry count, path length and compression ratio;
//! - [`cli`]: the binary's flags and run (logging is set up by `common::telemetry`);
//! - [`error`]: the error type and the exit code each failure maps to.

pub mod archive;
pub mod cli;
pub mod destination;
pub mod error;
mod extract;
pub mod http;
pub mod install;
pub mod limits;
mod local;
pub mod object;
pub mod oci;
mod proxy;
pub mod source;

pub use destination::{AllowEntry, Destinations};
pub use error::{Error, Fault, Result};
pub use install::{Installed, Options, install, install_archive_file};
pub use limits::Limits;
pub use source::Source;
