//! Shared helpers of the executor's integration tests: a real `executor serve` process on 127.0.0.1:0 (its local
//! code roots: an uploads directory of its own, the example agents and the test agents), a gRPC client, agent
//! paths, and a check that no process is left behind.

#![allow(dead_code)]

pub mod rl_arena;
pub mod web;

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
    /// Base URL of the HTTP endpoint (metrics, health, replays).
    pub http: String,
    pub data_dir: tempfile::TempDir,
    /// The first local code root, for agents a test writes (relative `code_url`s resolve here).
    pub uploads: tempfile::TempDir,
    /// Everything the executor logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Executor {
    /// Starts the executor binary and waits until it logs its listening addresses.
    #[track_caller]
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(tempfile::tempdir().expect("data dir"), extra, &[])
    }

    /// Starts the executor on an existing data directory (for restarts).
    #[track_caller]
    pub fn start_in(data_dir: tempfile::TempDir, extra: &[&str]) -> Self {
        Self::start_with(data_dir, extra, &[])
    }

    /// Starts the executor with extra flags and environment variables.
    #[track_caller]
    pub fn start_with(data_dir: tempfile::TempDir, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_executor")),
            data_dir,
            extra,
            env,
            None,
        )
    }

    /// Starts the executor with `storage` as its first local code root, against which relative local
    /// `code_url`s resolve (as the RL Arena backend's storage directory).
    #[track_caller]
    pub fn start_in_dir(storage: &Path, extra: &[&str]) -> Self {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_executor")),
            tempfile::tempdir().expect("data dir"),
            extra,
            &[],
            Some(storage),
        )
    }

    /// Starts the executor with at most `limit` open files (soft and hard limit), through `sh -c 'ulimit -n'`.
    #[track_caller]
    pub fn start_with_open_files(limit: u64, extra: &[&str]) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_executor"));
        Self::spawn(
            command,
            tempfile::tempdir().expect("data dir"),
            extra,
            &[],
            None,
        )
    }

    #[track_caller]
    fn spawn(
        mut command: Command,
        data_dir: tempfile::TempDir,
        extra: &[&str],
        env: &[(&str, &str)],
        storage: Option<&Path>,
    ) -> Self {
        let uploads = tempfile::tempdir().expect("uploads dir");
        let first_root = storage.unwrap_or(uploads.path());
        let mut child = command
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .arg("--local-code-roots")
            .arg(code_roots(&[first_root]))
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
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(found) = listening_addr(&line) {
                    let _ = tx.send(found);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (mut addr, mut http) = (None, None);
        while addr.is_none() || http.is_none() {
            match rx.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(("http", found)) => http = Some(found),
                Ok((_, found)) => addr = Some(found),
                Err(_) => {
                    let _ = child.kill();
                    panic!("executor did not start: {}", log.lock().unwrap());
                }
            }
        }
        Self {
            child,
            addr: format!("http://{}", addr.unwrap()),
            http: format!("http://{}", http.unwrap()),
            data_dir,
            uploads,
            log,
        }
    }

    /// `RunMatch` through a new client; the call must answer (the match itself may have failed).
    pub async fn run_match(&self, request: pb::MatchRequest) -> pb::MatchResponse {
        self.client()
            .await
            .run_match(request)
            .await
            .expect("run match")
            .into_inner()
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the executor process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal executor");
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait executor")
    }

    /// Stops the executor with SIGKILL and hands back its data directory (for restarts).
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("placeholder dir");
        std::mem::replace(&mut self.data_dir, dir)
    }

    /// The value of a metric (its whole name with labels, as `/metrics` writes it); 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        let (status, body) = self.http_get("/metrics");
        assert_eq!(status, 200);
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    }

    /// A plain HTTP GET on the executor's HTTP endpoint: (status, body).
    pub fn http_get(&self, path: &str) -> (u16, Vec<u8>) {
        use std::io::{Read, Write};
        let host = self.http.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).expect("connect http");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read http");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("http head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let body = raw[split + 4..].to_vec();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        (status, if chunked { dechunk(&body) } else { body })
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_addr(line: &str) -> Option<(&'static str, String)> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    let kind = match fields.get("message")?.as_str()? {
        "executor listening" => "grpc",
        "http listening" => "http",
        _ => return None,
    };
    Some((kind, fields.get("addr")?.as_str()?.to_string()))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// The local code roots of a test executor: `first` (the roots relative paths resolve against), then the
/// example agents and the test agents, comma-separated.
pub fn code_roots(first: &[&Path]) -> String {
    let mut roots: Vec<PathBuf> = first.iter().map(|p| p.to_path_buf()).collect();
    roots.push(workspace().join("examples/agents"));
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents"));
    roots
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `program` on the test script `script` (a path under `executor/tests/`) with `args`, and reads the
/// JSON object it prints on stdout; a failed run fails the test with the script's stderr.
#[track_caller]
pub fn script_json(program: &Path, script: &str, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let output = Command::new(program)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join(script),
        )
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{script} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
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
        limits: None,
    }
}

/// An rps match of `episode_steps` rounds between the shell starter agents, with a replay.
pub fn rps_request(match_id: &str, episode_steps: u32) -> pb::MatchRequest {
    pb::MatchRequest {
        match_id: match_id.into(),
        environment: "rps".into(),
        agents: vec![
            agent("a", &example_agent("rps-shell")),
            agent("b", &example_agent("rps-shell")),
        ],
        timeout_sec: 600,
        record_replay: true,
        seed: 5,
        environment_config_json: format!(r#"{{"episodeSteps": {episode_steps}}}"#),
        limits: None,
    }
}

/// A short pong match between the two Python example agents (`pong-python` against `random-python`),
/// named `ids`.
pub fn example_pong(match_id: &str, ids: [&str; 2]) -> pb::MatchRequest {
    pong_request(
        match_id,
        agent(ids[0], &example_agent("pong-python")),
        agent(ids[1], &example_agent("random-python")),
    )
}

/// A pong match between agents that think 50 ms per move, long enough to be cancelled, stopped or watched.
pub fn long_pong(match_id: &str) -> pb::MatchRequest {
    slow_pong(match_id, r#"{"max_steps": 100000, "winning_score": 1000}"#)
}

/// A pong match between two agents that take their time over every move, `a` and `b`, with this
/// configuration.
pub fn slow_pong(match_id: &str, config: &str) -> pb::MatchRequest {
    let mut request = pong_request(
        match_id,
        agent("a", &test_agent("slow-steps")),
        agent("b", &test_agent("slow-steps")),
    );
    request.environment_config_json = config.into();
    request
}

/// Waits until the match has played `steps` steps (its watch shows a frame of that step).
pub async fn wait_for_play(executor: &Executor, match_id: &str, steps: u32) {
    wait_for_play_on(executor.client().await, match_id, steps).await;
}

/// [`wait_for_play`] through `client` (of any executor, a Kubernetes replica's too). The match may be submitted
/// by a task whose request has not reached the executor yet: an unknown match is looked for again, for up to
/// ten seconds.
pub async fn wait_for_play_on(mut client: ExecutorClient<Channel>, match_id: &str, steps: u32) {
    for _ in 0..200 {
        let found = client
            .get_match(pb::GetMatchRequest {
                match_id: match_id.into(),
            })
            .await;
        match found {
            Err(status) if status.code() == tonic::Code::NotFound => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            _ => break,
        }
    }
    wait_for_step(&mut client, match_id, steps).await;
}

/// The replay a response points at, read from the file store: its bytes are exactly what `replay_sha256`
/// says, and it holds one frame per step played.
#[track_caller]
pub fn stored_replay(response: &pb::MatchResponse) -> (Vec<u8>, proto::replay::Replay) {
    use sha2::Digest;
    let path = response
        .replay_url
        .strip_prefix("file://")
        .unwrap_or_else(|| panic!("no replay stored: {response:?}"));
    let json = std::fs::read(path).expect("the stored replay");
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&json)),
        response.replay_sha256
    );
    let replay = proto::replay::from_slice(&json).expect("a whole replay");
    assert_eq!(replay.frames.len() as u32, response.total_steps);
    (json, replay)
}

/// Checks that `result` is of a match cancelled by `cause` after it played at least `min_steps` steps, and that
/// its message says the result covers what was played.
#[track_caller]
pub fn assert_cancelled_after_play(result: &pb::MatchResponse, cause: &str, min_steps: u32) {
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusCancelled,
        "{result:?}"
    );
    assert!(result.total_steps >= min_steps, "{result:?}");
    assert_eq!(
        result.error_message,
        format!(
            "{cause} after {} steps; the result covers what was played",
            result.total_steps
        )
    );
}

/// Watches the match until it has played `step` steps and hands back the rest of the watch; fails the test
/// when the match finishes first.
pub async fn wait_for_step(
    client: &mut ExecutorClient<Channel>,
    match_id: &str,
    step: u32,
) -> tonic::Streaming<pb::MatchUpdate> {
    use proto::pb::match_update::Update;
    use tokio_stream::StreamExt;
    let mut watch = client
        .watch_match(pb::WatchMatchRequest {
            match_id: match_id.into(),
        })
        .await
        .expect("watch the match")
        .into_inner();
    loop {
        match watch
            .next()
            .await
            .expect("stream open")
            .expect("update")
            .update
        {
            Some(Update::Frame(frame)) if frame.step >= step => return watch,
            Some(Update::Finished(r)) => panic!("finished before step {step}: {r:?}"),
            _ => {}
        }
    }
}

/// `GetMatch`; the call must answer.
pub async fn get_match(client: &mut ExecutorClient<Channel>, match_id: &str) -> pb::MatchInfo {
    client
        .get_match(pb::GetMatchRequest {
            match_id: match_id.into(),
        })
        .await
        .expect("get match")
        .into_inner()
}

/// `CancelMatch`; the call must answer.
pub async fn cancel(client: &mut ExecutorClient<Channel>, match_id: &str) -> pb::MatchInfo {
    client
        .cancel_match(pb::CancelMatchRequest {
            match_id: match_id.into(),
        })
        .await
        .expect("cancel")
        .into_inner()
}

/// `HealthCheck`; the call must answer.
pub async fn health_check(client: &mut ExecutorClient<Channel>) -> pb::HealthCheckResponse {
    client
        .health_check(pb::HealthCheckRequest {})
        .await
        .expect("health check")
        .into_inner()
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
        let cmdline: String = std::fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default()
            .chars()
            .take(160)
            .collect();
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

/// Waits until `check` holds, polling a live condition; fails the test after `attempts` polls.
pub async fn eventually<F, Fut>(what: &str, attempts: u32, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..attempts {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

/// Starts a new peak of the process's resident memory (`VmHWM`) from its current size.
pub fn reset_peak_memory(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("resetting the peak RSS");
}

/// The process's peak resident memory, in bytes.
pub fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM");
    kib * 1024
}
