//! A static HTTP file server on a free loopback port: Python's `http.server` serving a private
//! temp directory that the test fills with [`FileServer::put`].

use std::ffi::OsString;
use std::path::PathBuf;

use crate::process::{ServerProcess, start_on_free_port};

/// A running file server; killed when dropped (or when the test binary exits).
pub struct FileServer {
    _process: ServerProcess,
    port: u16,
    root: PathBuf,
    _dir: tempfile::TempDir,
}

impl FileServer {
    /// Serves an empty directory.
    pub fn start() -> Self {
        let python = crate::provision::PYTHON3.require();
        let dir = tempfile::tempdir().expect("temp dir for the file server");
        let root = dir.path().join("www");
        std::fs::create_dir_all(&root).expect("create the served directory");
        let log = dir.path().join("http.log");
        let served = root.clone();
        let (process, port) = start_on_free_port(
            "python3 -m http.server",
            &python,
            &log,
            |port| {
                vec![
                    OsString::from("-m"),
                    OsString::from("http.server"),
                    OsString::from("--bind"),
                    OsString::from("127.0.0.1"),
                    OsString::from("--directory"),
                    served.clone().into_os_string(),
                    OsString::from(port.to_string()),
                ]
            },
            |port| {
                crate::http::get(&format!("http://127.0.0.1:{port}/"))
                    .is_ok_and(|r| r.status == 200)
            },
        );
        FileServer {
            _process: process,
            port,
            root,
            _dir: dir,
        }
    }

    /// Publishes `data` as `name` (may contain `/`); returns its URL.
    pub fn put(&self, name: &str, data: &[u8]) -> String {
        let path = self.root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(&path, data).unwrap_or_else(|e| panic!("publish {name}: {e}"));
        self.url(name)
    }

    /// The URL `name` is (or would be) served at.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}
