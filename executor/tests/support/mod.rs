//! Shared helpers of the executor's integration tests: a real `executor serve` process on 127.0.0.1:0, a
//! gRPC client, agent paths, and a check that no process is left behind.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use proto::pb::executor_client::ExecutorClient;
use proto::pb::{self};
use tonic::transport::Channel;

/// A running `executor serve` with its own data directory.
pub struct Executor {
    child: Child,
    pub addr: String,
    pub data_dir: tempfile::TempDir,
    /// Everything the executor logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Executor {
    /// Starts the executor binary and waits until it logs its listening address.
    #[track_caller]
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(tempfile::tempdir().expect("data dir"), extra, &[])
    }

    /// Starts the executor with extra flags and environment variables.
    #[track_caller]
    pub fn start_with(data_dir: tempfile::TempDir, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_executor"))
            .args([
                "--log-format",
                "json",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir.path())
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start executor");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("executor did not start: {}", log.lock().unwrap());
            }
        };
        Self {
            child,
            addr: format!("http://{addr}"),
            data_dir,
            log,
        }
    }

    pub async fn client(&self) -> ExecutorClient<Channel> {
        ExecutorClient::connect(self.addr.clone())
            .await
            .expect("connect")
            .max_decoding_message_size(128 * 1024 * 1024)
    }

    /// Processes of this executor's matches still alive (the executor itself excluded).
    pub fn leftover_processes(&self) -> Vec<(i32, String)> {
        let own = self.child.id() as i32;
        processes_under(self.data_dir.path())
            .into_iter()
            .filter(|(pid, _)| *pid != own)
            .collect()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().expect("wait executor")
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_addr(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != "executor listening" {
        return None;
    }
    Some(fields.get("addr")?.as_str()?.to_string())
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// An example agent shipped in `examples/agents/`.
pub fn example_agent(name: &str) -> String {
    let path = workspace().join("examples/agents").join(name);
    assert!(path.is_dir(), "missing example agent {}", path.display());
    path.display().to_string()
}

/// A test agent from `executor/tests/agents/`.
pub fn test_agent(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/agents")
        .join(name);
    assert!(path.exists(), "missing test agent {}", path.display());
    path.display().to_string()
}

pub fn agent(id: &str, code_url: &str) -> pb::AgentData {
    pb::AgentData {
        agent_id: id.into(),
        code_url: code_url.into(),
        ..Default::default()
    }
}

/// A pong request between two agents with a short game.
pub fn pong_request(match_id: &str, a: pb::AgentData, b: pb::AgentData) -> pb::MatchRequest {
    pb::MatchRequest {
        match_id: match_id.into(),
        environment: "pong".into(),
        agents: vec![a, b],
        timeout_sec: 120,
        record_replay: true,
        seed: 7,
        environment_config_json: r#"{"winning_score": 3, "max_steps": 300}"#.into(),
    }
}

/// Pids of live processes whose working directory or command line mention `dir`.
pub fn processes_under(dir: &Path) -> Vec<(i32, String)> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let needle = dir.display().to_string();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let cwd = std::fs::read_link(entry.path().join("cwd"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if !zombie && (cwd.starts_with(&needle) || cmdline.contains(&needle)) {
            found.push((pid, cmdline));
        }
    }
    found
}
