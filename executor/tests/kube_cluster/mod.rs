//! A Kubernetes test cluster for the executor's tests: the project's API simulator with the match images
//! mapped to the workspace's binaries (the orchestrator image holding the agent shim, the runtime image of
//! code agents standing for the host's Python, agent images `sim-agents/<example>` holding an example agent
//! as their `/app`), containers running as their pods' users when the tests run as root, replicas of
//! `executor serve --backend kubernetes` sharing a result store and a report token key, a stand-in for the
//! executor Service, and the requests the tests play.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::ListParams;
use proto::pb;

use crate::support::{code_roots, example_pong, slow_pong};

pub const NS: &str = "rl-arena";
pub const SELECTOR: &str = "app.kubernetes.io/managed-by=rl-arena-executor";

/// A simulator with the match images mapped to the workspace's binaries, a shared result store and a
/// shared report token key.
pub struct Cluster {
    pub sim: kube_sim::Sim,
    pub client: kube::Client,
    pub dir: tempfile::TempDir,
}

/// The directory of the workspace's binaries (beside the executor under test).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_executor"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

/// The runtime image of code agents in the simulated cluster.
pub const RUNTIME_IMAGE: &str = "sim/agent-runtime:test";

/// The image of example agent `name`, holding it as its `/app`.
pub fn agent_image(name: &str) -> String {
    format!("sim-agents/{name}:1")
}

/// Whether the tests run as root: match containers then run as their pods' users.
pub use testkit::provision::is_root;

impl Cluster {
    pub async fn start(time_scale: f64) -> Self {
        let bins = bin_dir();
        for name in ["orchestrator", "agent-init", "agent-shim"] {
            assert!(
                bins.join(name).is_file(),
                "build the workspace first: {} is missing",
                bins.join(name).display()
            );
        }
        let mut config = kube_sim::Config {
            namespace: NS.into(),
            ..Default::default()
        }
        .image("*/orchestrator", bins.join("orchestrator"))
        .image_file(
            "*/orchestrator",
            "/usr/local/bin/agent-shim",
            bins.join("agent-shim"),
        )
        .image("*/agent-init", bins.join("agent-init"))
        .image("sim/agent-runtime", "/usr/bin/python3")
        .run_as_users(is_root())
        .time_scale(time_scale);
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents");
        for example in std::fs::read_dir(&examples).expect("examples").flatten() {
            let name = example.file_name().to_string_lossy().into_owned();
            if example.path().is_dir() {
                config = config.image_file(&format!("sim-agents/{name}"), "/app", example.path());
            }
        }
        let sim = kube_sim::Sim::start(config).await.expect("start kube-sim");
        let kubeconfig = kube::config::Kubeconfig::read_from(sim.kubeconfig_path()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        // Not under /tmp: the match pod mounts an emptyDir there, and the simulator maps paths under mounts.
        // Readable by the users match containers run as, like the agents it holds.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.path().join("report.key"),
            "test-report-key-0123456789abcdef\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        std::fs::create_dir_all(dir.path().join("uploads")).unwrap();
        Self { sim, client, dir }
    }

    /// Starts a replica on `port` whose match pods report to `report` (the "Service").
    pub fn executor(&self, port: u16, report: &str, extra: &[&str]) -> Replica {
        let listen = format!("127.0.0.1:{port}");
        let store = format!("file://{}", self.dir.path().join("store").display());
        let key = self.dir.path().join("report.key").display().to_string();
        let roots = code_roots(&[&self.uploads()]);
        let mut flags: Vec<&str> = vec![
            "--listen",
            &listen,
            "--backend",
            "kubernetes",
            "--store-url",
            &store,
            "--report-address",
            report,
            "--report-token-key-file",
            &key,
            "--k8s-orchestrator-image",
            "sim/orchestrator:test",
            "--k8s-agent-init-image",
            "sim/agent-init:test",
            "--k8s-agent-runtime-image",
            RUNTIME_IMAGE,
            "--k8s-adopt-grace-sec",
            "1",
            "--local-code-roots",
            &roots,
            // The tests' sources on loopback (an unreachable port among them) must be fetched, not refused.
            "--agent-source-allow-hosts",
            "127.0.0.1",
        ];
        flags.extend_from_slice(extra);
        Replica::start(&flags, self.sim.kubeconfig_path())
    }

    /// Two replicas behind one "Service", which sends every report stream to `a` while it is up, else to `b`.
    pub async fn two_replicas(&self) -> (Service, Replica, Replica) {
        let (port_a, port_b) = (free_port(), free_port());
        let service = Service::start(vec![port_a, port_b]).await;
        let a = self.executor(port_a, &service.url(), &[]);
        let b = self.executor(port_b, &service.url(), &[]);
        (service, a, b)
    }

    /// A replica on a free port whose match pods report to it directly.
    pub fn replica(&self, extra: &[&str]) -> Replica {
        let port = free_port();
        self.executor(port, &format!("http://127.0.0.1:{port}"), extra)
    }

    /// A local code root for agents the tests write (pods share the host here).
    pub fn uploads(&self) -> PathBuf {
        self.dir.path().join("uploads")
    }

    pub fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), NS)
    }

    pub async fn count(&self) -> (usize, usize, usize) {
        let lp = ListParams::default().labels(SELECTOR);
        let jobs = self.jobs().list(&lp).await.unwrap().items.len();
        let pods = Api::<Pod>::namespaced(self.client.clone(), NS)
            .list(&lp)
            .await
            .unwrap()
            .items
            .len();
        let secrets = Api::<Secret>::namespaced(self.client.clone(), NS)
            .list(&lp)
            .await
            .unwrap()
            .items
            .len();
        (jobs, pods, secrets)
    }

    /// The name of the match's pod once its orchestrator container runs.
    /// Waits until no managed Job, pod or Secret is left, looking `attempts` times 100 ms apart; fails saying
    /// `what` and what is left otherwise.
    pub async fn assert_emptied(&self, attempts: u32, what: &str) {
        for _ in 0..attempts {
            if self.count().await == (0, 0, 0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{what}: (jobs, pods, secrets) left: {:?}",
            self.count().await
        );
    }

    pub async fn running_pod(&self, match_id: &str) -> String {
        self.running_container(match_id, "match-orchestrator").await
    }

    /// The name of the match's pod once its container `container` runs.
    pub async fn running_container(&self, match_id: &str, container: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let lp = ListParams::default().labels(&format!("match-id={match_id}"));
        for _ in 0..600 {
            for pod in pods.list(&lp).await.unwrap().items {
                let running = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| {
                        cs.iter().any(|c| {
                            c.name == container
                                && c.state.as_ref().is_some_and(|s| s.running.is_some())
                        })
                    });
                if running {
                    return pod.metadata.name.unwrap();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("container {container} of {match_id} never ran");
    }

    /// The match's pods.
    pub async fn pods_of(&self, match_id: &str) -> Vec<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let lp = ListParams::default().labels(&format!("match-id={match_id}"));
        pods.list(&lp).await.unwrap().items
    }

    /// Non-watch API requests so far: (verb, resource) -> count.
    pub fn writes_and_gets(&self) -> Vec<(String, String, u64)> {
        self.sim
            .request_counts()
            .into_iter()
            .filter(|c| c.verb != "watch" && c.verb != "list")
            .map(|c| (c.verb, c.resource, c.count))
            .collect()
    }
}

/// A running `executor serve --backend kubernetes` on a port chosen by the test (the report address of
/// its match pods must be known before it starts).
pub struct Replica {
    pub child: std::process::Child,
    pub addr: String,
    pub data_dir: tempfile::TempDir,
    /// Every line the replica logged so far (JSON).
    pub log: Arc<Mutex<String>>,
}

impl Replica {
    #[track_caller]
    pub fn start(flags: &[&str], kubeconfig: &Path) -> Self {
        use std::io::{BufRead, BufReader};
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_executor"))
            .args([
                "--log-format",
                "json",
                "serve",
                "--http-listen",
                "off",
                "--data-dir",
            ])
            .arg(data_dir.path())
            .args(flags)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start executor");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    let mut kept = kept.lock().unwrap();
                    kept.push_str(&line);
                    kept.push('\n');
                }
                if line.contains("\"executor listening\"") {
                    let _ = tx.send(());
                }
                if std::env::var_os("KUBE_TEST_LOGS").is_some() {
                    eprintln!("{line}");
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("executor did not start");
        }
        let listen = flags[flags.iter().position(|f| *f == "--listen").unwrap() + 1];
        Self {
            child,
            addr: format!("http://{listen}"),
            data_dir,
            log,
        }
    }

    /// Plays a match through `RunMatch` and returns the answer.
    pub async fn run(&self, request: pb::MatchRequest) -> pb::MatchResponse {
        self.client()
            .await
            .run_match(request)
            .await
            .unwrap()
            .into_inner()
    }

    /// Starts `RunMatch` in a task of its own, for a test that acts on the match while the call waits for
    /// its end; the task hands back the call's answer.
    pub async fn run_in_background(
        &self,
        request: pb::MatchRequest,
    ) -> tokio::task::JoinHandle<Result<pb::MatchResponse, tonic::Status>> {
        let mut client = self.client().await;
        tokio::spawn(async move {
            client
                .run_match(request)
                .await
                .map(tonic::Response::into_inner)
        })
    }

    /// What the replica logged so far.
    pub fn logged(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub async fn client(&self) -> pb::executor_client::ExecutorClient<tonic::transport::Channel> {
        pb::executor_client::ExecutorClient::connect(self.addr.clone())
            .await
            .expect("connect")
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        assert!(self.data_dir.path().is_dir());
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A stand-in for the executor Service: forwards each connection to the first replica that accepts it.
pub struct Service {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    pub async fn start(backends: Vec<u16>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backends = Arc::new(Mutex::new(backends));
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let ports = backends.lock().unwrap().clone();
                tokio::spawn(async move {
                    for port in ports {
                        if let Ok(mut outbound) =
                            tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                        {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn slow_request(match_id: &str) -> pb::MatchRequest {
    slow_pong(match_id, r#"{"winning_score": 3, "max_steps": 120}"#)
}

pub fn quick_request(match_id: &str) -> pb::MatchRequest {
    example_pong(match_id, ["tracker", "random"])
}

#[track_caller]
pub fn assert_status(response: &pb::MatchResponse, status: pb::MatchStatus, needle: &str) {
    assert_eq!(
        response.status(),
        status,
        "{}: {}",
        response.match_id,
        response.error_message
    );
    assert!(
        response.error_message.contains(needle),
        "{}: {:?} lacks {needle:?}",
        response.match_id,
        response.error_message
    );
}
