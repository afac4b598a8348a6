//! The simulator as a child process (the `kube-sim` binary): started with flags, its URL read
//! from the first line it prints, killed when the handle drops; plus a minimal blocking HTTP
//! client for the `/_sim/...` admin endpoints.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};

/// A `kube-sim` child process.
#[derive(Debug)]
pub struct SimProcess {
    child: Child,
    url: String,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl SimProcess {
    /// Starts `binary` (the `kube-sim` executable) with extra `args` (for example
    /// `--image sim/shell=/bin/sh`, `--time-scale 0.05`) and waits for its URL.
    pub fn spawn(binary: &Path, args: &[&str]) -> Result<SimProcess> {
        let dir = tempfile::Builder::new()
            .prefix("kube-sim-child-")
            .tempdir()
            .map_err(|source| Error::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(binary)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| Error::Io {
                path: binary.to_path_buf(),
                source,
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Child("no stdout".to_owned()))?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let url = line.trim().to_owned();
        if read.is_err() || !url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Child(format!(
                "kube-sim did not print its URL (got {url:?}); see its stderr above"
            )));
        }
        Ok(SimProcess {
            child,
            url,
            kubeconfig,
            _dir: dir,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig the child wrote.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Calls an admin endpoint: `admin("POST", "/_sim/faults/node-loss", "{}")`. Returns the
    /// status code and the body.
    pub fn admin(&self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        http_call(&self.url, method, path, body)
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // SIGTERM lets the simulator kill its containers; SIGKILL if it does not go.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close` to `url` (`http://host:port`).
fn http_call(url: &str, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let io = |source| Error::Io {
        path: PathBuf::from(url),
        source,
    };
    let mut stream = TcpStream::connect(host).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(io)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(io)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(io)?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::Child(format!("bad HTTP response from {url}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}
