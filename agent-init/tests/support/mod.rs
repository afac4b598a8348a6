//! Shared test helpers: running the real binary, scratch directories, archive builders and a
//! scripted HTTP server on loopback.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zip::write::SimpleFileOptions;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The `agent-init: <reason>` line, without the prefix.
    pub fn reason(&self) -> String {
        self.stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("agent-init: "))
            .unwrap_or_default()
            .to_owned()
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code; stderr:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_reason_contains(&self, text: &str) -> &Self {
        let reason = self.reason();
        assert!(
            reason.contains(text),
            "reason {reason:?} does not mention {text:?}; stderr:\n{}",
            self.stderr
        );
        self
    }
}

fn outcome(output: std::process::Output) -> Outcome {
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs the real `agent-init` binary with `args` and waits for it.
pub fn run<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-init"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run agent-init");
    outcome(output)
}

/// Like [`run`] with extra environment variables, without blocking the test's runtime (for tests that serve
/// HTTP themselves).
pub async fn run_async_env<I, S>(args: I, env: &[(&str, &str)]) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-init"))
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run agent-init");
    outcome(output)
}

/// A private directory with an `outside/` area that must never change and a destination inside
/// `agents/` that does not exist yet.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create scratch dir");
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/sentinel.txt"), b"keep me").unwrap();
        std::fs::create_dir_all(dir.path().join("artifacts")).unwrap();
        std::fs::create_dir_all(dir.path().join("agents")).unwrap();
        Scratch { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn dest(&self) -> PathBuf {
        self.root().join("agents/agent-0")
    }

    pub fn outside(&self) -> PathBuf {
        self.root().join("outside")
    }

    /// Writes an artifact file and returns its path.
    pub fn artifact(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.root().join("artifacts").join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Every path below the root, symlinks not followed.
    pub fn snapshot(&self) -> BTreeSet<PathBuf> {
        tree(self.root())
    }

    /// Runs agent-init with `--source SOURCE --dest DEST`, the scratch directory allowed as a local
    /// root (`--local-roots ROOT`), and `extra` flags.
    pub fn install(&self, source: impl AsRef<OsStr>, extra: &[&str]) -> Outcome {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--source".into(),
            source.as_ref().to_owned(),
            "--dest".into(),
            self.dest().into_os_string(),
            "--local-roots".into(),
            self.root().as_os_str().to_owned(),
        ];
        args.extend(extra.iter().map(Into::into));
        run(args)
    }

    /// Runs agent-init with `--source SOURCE --dest DEST`, then `args`, with `env` added to its environment,
    /// without blocking the test's runtime (for tests that serve HTTP themselves).
    pub async fn fetch(&self, source: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let dest = self.dest();
        let mut all = vec![
            "--source",
            source,
            "--dest",
            dest.to_str().expect("utf-8 temp path"),
        ];
        all.extend_from_slice(args);
        run_async_env(all, env).await
    }

    /// [`Scratch::fetch`] of an `oci://` source with no ambient Docker config: `HOME` a directory below the root
    /// that holds none, `DOCKER_CONFIG` empty, plus `env`.
    pub async fn pull(&self, source: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let home = self.root().join("home");
        let no_config = [
            ("HOME", home.to_str().expect("utf-8 temp path")),
            ("DOCKER_CONFIG", ""),
        ];
        self.fetch(source, args, &[&no_config, env].concat()).await
    }

    /// Asserts that the destination was not created and nothing else below the root changed.
    #[track_caller]
    pub fn assert_untouched(&self, before: &BTreeSet<PathBuf>) {
        assert!(
            !self.dest().exists(),
            "destination exists after a failed install"
        );
        let after = self.snapshot();
        assert_eq!(
            &after, before,
            "files appeared or vanished outside the destination"
        );
        assert_eq!(
            std::fs::read(self.outside().join("sentinel.txt")).unwrap(),
            b"keep me"
        );
    }

    /// The installed files, relative to the destination.
    pub fn installed(&self) -> BTreeSet<String> {
        let dest = self.dest();
        tree(&dest)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&dest)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

/// Every path below `root`, symlinks not followed.
pub fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.insert(path);
        }
    }
    out
}

/// One entry of a tar archive built in a test; names are written raw, unchecked.
pub enum TarItem<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    CharDevice(&'a str),
}

/// Builds an uncompressed tar, writing names and link targets raw so hostile ones survive.
pub fn tar(items: &[TarItem<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_gnu();
        let (name, kind, data, mode, link): (&str, tar::EntryType, &[u8], u32, Option<&str>) =
            match *item {
                TarItem::File(name, data, mode) => {
                    (name, tar::EntryType::Regular, data, mode, None)
                }
                TarItem::Dir(name) => (name, tar::EntryType::Directory, b"", 0o755, None),
                TarItem::Symlink(name, target) => {
                    (name, tar::EntryType::Symlink, b"", 0o777, Some(target))
                }
                TarItem::Hardlink(name, target) => {
                    (name, tar::EntryType::Link, b"", 0o644, Some(target))
                }
                TarItem::CharDevice(name) => (name, tar::EntryType::Char, b"", 0o644, None),
            };
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        if name.len() <= 100 {
            let gnu = header.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_cksum();
            builder.append(&header, data).unwrap();
        } else {
            builder.append_data(&mut header, name, data).unwrap();
        }
    }
    builder.into_inner().unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

/// One entry of a zip archive built in a test; names are written as given.
pub enum ZipItem<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

pub fn zip(items: &[ZipItem<'_>]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for item in items {
        match *item {
            ZipItem::File(name, data) => {
                writer.start_file(name, options).unwrap();
                writer.write_all(data).unwrap();
            }
            ZipItem::Dir(name) => writer.add_directory(name, options).unwrap(),
            ZipItem::Symlink(name, target) => writer.add_symlink(name, target, options).unwrap(),
        }
    }
    writer.finish().unwrap().into_inner()
}

/// A zip holding one file of `size` zeros, compressed while it is generated.
pub fn zip_bomb(size: usize) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(size > u32::MAX as usize);
    writer.start_file("bomb/zeros.bin", options).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        writer.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    writer.finish().unwrap().into_inner()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// How the test server answers one request.
#[derive(Clone)]
pub enum Reply {
    /// `200 OK` with this body.
    Ok(Vec<u8>),
    /// `200 OK` with this body and the `ETag` and `Last-Modified` headers an object store sends.
    Object(Vec<u8>),
    /// This status with a short body.
    Status(u16),
    /// `302 Found` to this location.
    Redirect(String),
    /// Any status, headers and body.
    Custom {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Declares `declared` bytes but sends `body` and closes the connection.
    Truncated { declared: usize, body: Vec<u8> },
    /// Declares `declared` bytes, sends `body`, then never sends more and never closes.
    Stall { declared: usize, body: Vec<u8> },
}

/// A scripted HTTP/1.1 server on loopback (127.0.0.1 unless told otherwise); `script(n, path)`
/// answers the n-th request (from 0).
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub async fn start<F>(script: F) -> Self
    where
        F: Fn(usize, &str) -> Reply + Send + Sync + 'static,
    {
        Self::start_with_head(move |n, path, _| script(n, path)).await
    }

    /// Like [`TestServer::start`]; the script also sees the request head (lowercased).
    pub async fn start_with_head<F>(script: F) -> Self
    where
        F: Fn(usize, &str, &str) -> Reply + Send + Sync + 'static,
    {
        Self::start_at_with_head("127.0.0.1", script).await
    }

    /// Like [`TestServer::start`] on another loopback address (e.g. `127.0.0.2`).
    pub async fn start_at<F>(ip: &str, script: F) -> Self
    where
        F: Fn(usize, &str) -> Reply + Send + Sync + 'static,
    {
        Self::start_at_with_head(ip, move |n, path, _| script(n, path)).await
    }

    async fn start_at_with_head<F>(ip: &str, script: F) -> Self
    where
        F: Fn(usize, &str, &str) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let (task_hits, task_requests) = (hits.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (script, hits, requests) =
                    (script.clone(), task_hits.clone(), task_requests.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let n = hits.fetch_add(1, Ordering::SeqCst);
                    let lower = head.to_ascii_lowercase();
                    requests.lock().unwrap().push(head);
                    let reply = script(n, &path, &lower);
                    let _ = answer(&mut stream, reply).await;
                });
            }
        });
        TestServer {
            addr,
            hits,
            requests,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn answer(stream: &mut tokio::net::TcpStream, reply: Reply) -> std::io::Result<()> {
    let head = |status: &str, len: usize, extra: &str| {
        format!("HTTP/1.1 {status}\r\ncontent-length: {len}\r\nconnection: close\r\n{extra}\r\n")
    };
    match reply {
        Reply::Ok(body) => {
            stream
                .write_all(head("200 OK", body.len(), "").as_bytes())
                .await?;
            stream.write_all(&body).await?;
        }
        Reply::Object(body) => {
            let extra = "etag: \"0123abcd\"\r\nlast-modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n";
            stream
                .write_all(head("200 OK", body.len(), extra).as_bytes())
                .await?;
            stream.write_all(&body).await?;
        }
        Reply::Custom {
            status,
            headers,
            body,
        } => {
            let extra: String = headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}\r\n"))
                .collect();
            let status = format!("{status} Test");
            stream
                .write_all(head(&status, body.len(), &extra).as_bytes())
                .await?;
            stream.write_all(&body).await?;
        }
        Reply::Status(code) => {
            let body = format!("status {code}\n");
            let status = format!("{code} Test");
            stream
                .write_all(head(&status, body.len(), "").as_bytes())
                .await?;
            stream.write_all(body.as_bytes()).await?;
        }
        Reply::Redirect(location) => {
            let extra = format!("location: {location}\r\n");
            stream
                .write_all(head("302 Found", 0, &extra).as_bytes())
                .await?;
        }
        Reply::Truncated { declared, body } => {
            stream
                .write_all(head("200 OK", declared, "").as_bytes())
                .await?;
            stream.write_all(&body).await?;
        }
        Reply::Stall { declared, body } => {
            stream
                .write_all(head("200 OK", declared, "").as_bytes())
                .await?;
            stream.write_all(&body).await?;
            stream.flush().await?;
            std::future::pending::<()>().await;
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

/// A small agent archive: `my-agent/agent.py` and `my-agent/lib/util.py`.
pub fn agent_zip() -> Vec<u8> {
    zip(&[
        ZipItem::Dir("my-agent/"),
        ZipItem::File("my-agent/agent.py", b"def get_action(obs):\n    return 0\n"),
        ZipItem::File("my-agent/lib/util.py", b"X = 1\n"),
    ])
}

/// The files [`agent_zip`] installs.
pub fn agent_files() -> BTreeSet<String> {
    ["agent.py", "lib", "lib/util.py"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}
