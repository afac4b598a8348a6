//! `testkit`: real third-party servers on 127.0.0.1 for integration tests, and the helpers that
//! feed them. Dev-only: no non-test code depends on it.
//!
//! Parts:
//! - [`provision`]: the third-party programs (Debian packages, installed with apt-get as root) and
//!   Python packages (a virtualenv under the target directory) the tests need, found or installed
//!   on first use;
//! - [`process`]: a server child process that dies with its guard or with the test binary, free
//!   ports and bounded readiness polling;
//! - [`http`]: a minimal blocking HTTP/1.1 client over `std::net` for readiness and pushes;
//! - [`moto`]: moto's S3-compatible server, with bucket and object uploads through boto3;
//! - [`registry`]: Debian's `docker-registry` (distribution) with filesystem storage, optionally
//!   behind htpasswd basic auth, and the Docker config JSON that carries its credentials;
//! - [`oci`]: pushes blobs, image manifests and multi-platform indexes over the distribution API;
//! - [`files`]: a static HTTP file server (`python3 -m http.server`) over a private directory;
//! - [`archive`]: tar, tar.gz (image layers with whiteouts, agent directories) and zip builders.
//!
//! A program that can be neither found nor installed makes the test fail with a message naming
//! the package to install; nothing is skipped.

pub mod archive;
pub mod files;
pub mod http;
pub mod moto;
pub mod oci;
pub mod process;
pub mod provision;
pub mod registry;

pub use archive::{Tar, gzip, sha256_hex, zip_dir};
pub use files::FileServer;
pub use moto::Moto;
pub use oci::{Descriptor, Pusher};
pub use provision::python_with;
pub use registry::Registry;
