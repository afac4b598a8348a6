//! Whole matches through `executor serve --backend kubernetes` against the project's API simulator
//! (`kube-sim`): the executor binary, unmodified, reaches it through a kubeconfig; match pods run the real
//! `agent-init` and `orchestrator` binaries. Covers a full pong match, each failure cause with its status,
//! replicas killed mid-match, every replica down and back, objects gone after the TTL, and API requests per
//! match.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::ListParams;
use proto::pb;
use proto::pb::match_update::Update;
use support::{agent, example_agent, pong_request, test_agent};
use tokio_stream::StreamExt;

const NS: &str = "rl-arena";
const SELECTOR: &str = "app.kubernetes.io/managed-by=rl-arena-executor";

/// A simulator with the match images mapped to the workspace's binaries, a shared result store and a
/// shared report token key.
struct Cluster {
    sim: kube_sim::Sim,
    client: kube::Client,
    dir: tempfile::TempDir,
}

/// The directory of the workspace's binaries (beside the executor under test).
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_executor"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

impl Cluster {
    async fn start(time_scale: f64) -> Self {
        let bins = bin_dir();
        for name in ["orchestrator", "agent-init"] {
            assert!(
                bins.join(name).is_file(),
                "build the workspace first: {} is missing",
                bins.join(name).display()
            );
        }
        let config = kube_sim::Config {
            namespace: NS.into(),
            ..Default::default()
        }
        .image("*/orchestrator", bins.join("orchestrator"))
        .image("*/agent-init", bins.join("agent-init"))
        .time_scale(time_scale);
        let sim = kube_sim::Sim::start(config).await.expect("start kube-sim");
        let kubeconfig = kube::config::Kubeconfig::read_from(sim.kubeconfig_path()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        // Not under /tmp: the match pod mounts an emptyDir there, and the simulator maps paths under mounts.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        std::fs::write(
            dir.path().join("report.key"),
            "test-report-key-0123456789abcdef\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        Self { sim, client, dir }
    }

    /// Starts a replica on `port` whose match pods report to `report` (the "Service").
    fn executor(&self, port: u16, report: &str, extra: &[&str]) -> Replica {
        let listen = format!("127.0.0.1:{port}");
        let store = format!("file://{}", self.dir.path().join("store").display());
        let key = self.dir.path().join("report.key").display().to_string();
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
            "--k8s-adopt-grace-sec",
            "1",
        ];
        flags.extend_from_slice(extra);
        Replica::start(&flags, self.sim.kubeconfig_path())
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), NS)
    }

    async fn count(&self) -> (usize, usize, usize) {
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
    async fn running_pod(&self, match_id: &str) -> String {
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
                            c.name == "match-orchestrator"
                                && c.state.as_ref().is_some_and(|s| s.running.is_some())
                        })
                    });
                if running {
                    return pod.metadata.name.unwrap();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the orchestrator of {match_id} never ran");
    }

    /// Non-watch API requests so far: (verb, resource) -> count.
    fn writes_and_gets(&self) -> Vec<(String, String, u64)> {
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
struct Replica {
    child: std::process::Child,
    addr: String,
    data_dir: tempfile::TempDir,
}

impl Replica {
    #[track_caller]
    fn start(flags: &[&str], kubeconfig: &Path) -> Self {
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
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
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
        }
    }

    async fn client(&self) -> pb::executor_client::ExecutorClient<tonic::transport::Channel> {
        pb::executor_client::ExecutorClient::connect(self.addr.clone())
            .await
            .expect("connect")
    }

    /// SIGKILL: no drain, no goodbye.
    fn kill(mut self) {
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
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A stand-in for the executor Service: forwards each connection to the first replica that accepts it.
struct Service {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    async fn start(backends: Vec<u16>) -> Self {
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

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn slow_request(match_id: &str) -> pb::MatchRequest {
    let mut req = pong_request(
        match_id,
        agent("a", &test_agent("slow-steps")),
        agent("b", &test_agent("slow-steps")),
    );
    req.environment_config_json = r#"{"winning_score": 3, "max_steps": 120}"#.into();
    req
}

fn quick_request(match_id: &str) -> pb::MatchRequest {
    pong_request(
        match_id,
        agent("tracker", &example_agent("pong-python")),
        agent("random", &example_agent("random-python")),
    )
}

#[track_caller]
fn assert_status(response: &pb::MatchResponse, status: pb::MatchStatus, needle: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pong_match_runs_as_one_job_with_a_handful_of_requests_and_leaves_nothing_after_its_ttl()
{
    let cluster = Cluster::start(0.2).await;
    let port = free_port();
    let executor = cluster.executor(
        port,
        &format!("http://127.0.0.1:{port}"),
        &["--k8s-ttl-sec", "5"],
    );
    let mut client = executor.client().await;
    cluster.sim.reset_request_counts();

    let response = client
        .run_match(quick_request("k8s-pong-1"))
        .await
        .unwrap()
        .into_inner();
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert!(response.total_steps > 0);
    assert_eq!(response.agent_results.len(), 2);
    assert!(
        !response.replay_url.is_empty(),
        "the replay came over the report stream"
    );
    assert_eq!(response.replay_sha256.len(), 64);

    let requests = cluster.writes_and_gets();
    let total: u64 = requests.iter().map(|(_, _, n)| n).sum();
    println!("API requests for one match besides the shared watches: {total} {requests:?}");
    let count = |verb: &str, resource: &str| {
        requests
            .iter()
            .filter(|(v, r, _)| v == verb && r == resource)
            .map(|(_, _, n)| n)
            .sum::<u64>()
    };
    assert_eq!(count("create", "jobs"), 1);
    assert_eq!(count("create", "secrets"), 1);
    assert_eq!(count("patch", "secrets"), 1);
    assert!(total <= 5, "{requests:?}");

    // The same request again is answered from the result store, without a second Job.
    let again = client
        .run_match(quick_request("k8s-pong-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, response);
    let mut different = quick_request("k8s-pong-1");
    different.seed = 99;
    let refused = client.run_match(different).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::AlreadyExists);

    // The TTL controller removes the Job, its pod and (owned) Secret.
    for _ in 0..600 {
        if cluster.count().await == (0, 0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cluster.count().await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_ends_the_match_with_its_status_and_cause() {
    let cluster = Cluster::start(0.05).await;
    let port = free_port();
    let executor = cluster.executor(
        port,
        &format!("http://127.0.0.1:{port}"),
        &[
            "--k8s-startup-budget-sec",
            "1",
            "--k8s-deadline-slack-sec",
            "1",
            "--k8s-ttl-sec",
            "600",
        ],
    );
    let mut client = executor.client().await;

    // A bad artifact is the agent's fault (agent-init exit 10), with agent-init's message.
    let junk = cluster.dir.path().join("junk.zip");
    std::fs::write(&junk, b"this is not an archive").unwrap();
    let mut req = quick_request("k8s-bad-artifact");
    req.agents[1] = agent("junk", &junk.display().to_string());
    let response = client.run_match(req).await.unwrap().into_inner();
    assert_status(&response, pb::MatchStatus::StatusError, "agent junk:");
    let junk_result = &response.agent_results[1];
    assert_eq!(
        junk_result.status(),
        pb::AgentStatus::Error,
        "{junk_result:?}"
    );
    assert_eq!(response.agent_results[0].status(), pb::AgentStatus::Ok);

    // An unreachable source is the infrastructure's fault (exit 11).
    let mut req = quick_request("k8s-unreachable");
    req.agents[0] = agent(
        "far",
        &format!("http://127.0.0.1:{}/agent.zip", free_port()),
    );
    let response = client.run_match(req).await.unwrap().into_inner();
    assert_status(&response, pb::MatchStatus::StatusError, "infrastructure");
    assert!(
        response
            .agent_results
            .iter()
            .all(|a| a.status() == pb::AgentStatus::Ok)
    );

    // System image pull errors fail at once, and the Job is deleted.
    cluster.sim.fail_image_pull("sim/orchestrator");
    let response = client
        .run_match(quick_request("k8s-pull"))
        .await
        .unwrap()
        .into_inner();
    cluster.sim.clear_image_pull_failure("sim/orchestrator");
    assert_status(
        &response,
        pb::MatchStatus::StatusError,
        "could not be pulled",
    );
    assert!(
        response.error_message.contains("sim/orchestrator:test"),
        "{}",
        response.error_message
    );

    // Unschedulable past the startup budget.
    cluster.sim.set_unschedulable(true);
    let response = client
        .run_match(quick_request("k8s-unschedulable"))
        .await
        .unwrap()
        .into_inner();
    cluster.sim.set_unschedulable(false);
    assert_status(
        &response,
        pb::MatchStatus::StatusError,
        "RESOURCE_EXHAUSTED",
    );

    // The Job's deadline is a timeout (the orchestrator's own budget is much longer).
    let mut req = slow_request("k8s-deadline");
    req.timeout_sec = 1;
    req.limits = Some(pb::MatchLimits {
        init_ms: 1000,
        ..Default::default()
    });
    req.environment_config_json = r#"{"winning_score": 21, "max_steps": 100000}"#.into();
    let response = client.run_match(req).await.unwrap().into_inner();
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusTimeout,
        "{}",
        response.error_message
    );

    // OOMKilled and node loss while the orchestrator runs.
    for (match_id, cause) in [("k8s-oom", "OOMKilled"), ("k8s-node-lost", "NodeLost")] {
        let waiting = {
            let mut client = executor.client().await;
            let req = slow_request(match_id);
            tokio::spawn(async move { client.run_match(req).await })
        };
        let pod = cluster.running_pod(match_id).await;
        if cause == "OOMKilled" {
            cluster
                .sim
                .oom_kill(NS, &pod, "match-orchestrator")
                .unwrap();
        } else {
            cluster.sim.lose_node();
        }
        let response = waiting.await.unwrap().unwrap().into_inner();
        assert_status(&response, pb::MatchStatus::StatusError, cause);
    }

    // Failed matches whose pods could still run were deleted.
    let jobs = cluster.jobs();
    for name in ["k8s-pull", "k8s-unschedulable"] {
        let mut gone = false;
        for _ in 0..300 {
            if jobs.get_opt(name).await.unwrap().is_none() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "Job {name} was not deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_deletes_the_job_and_records_the_match_cancelled() {
    let cluster = Cluster::start(0.2).await;
    let port = free_port();
    let executor = cluster.executor(port, &format!("http://127.0.0.1:{port}"), &[]);
    let mut client = executor.client().await;
    let info = client
        .submit_match(slow_request("k8s-cancel"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.match_id, "k8s-cancel");
    cluster.running_pod("k8s-cancel").await;
    let info = client
        .cancel_match(pb::CancelMatchRequest {
            match_id: "k8s-cancel".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        info.result.unwrap().status(),
        pb::MatchStatus::StatusCancelled
    );
    // Foreground deletion: the Job goes once its pod (and Secret) are gone.
    let mut gone = false;
    for _ in 0..300 {
        if cluster.count().await == (0, 0, 0) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "the cancelled match left objects: {:?}",
        cluster.count().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_match_hands_the_match_to_the_other_with_one_job() {
    let cluster = Cluster::start(0.2).await;
    let (port_a, port_b) = (free_port(), free_port());
    let service = Service::start(vec![port_a, port_b]).await;
    let a = cluster.executor(port_a, &service.url(), &[]);
    let b = cluster.executor(port_b, &service.url(), &[]);

    let waiting = {
        let mut client = a.client().await;
        tokio::spawn(async move { client.run_match(slow_request("k8s-failover")).await })
    };
    cluster.running_pod("k8s-failover").await;
    a.kill();
    assert!(
        waiting.await.unwrap().is_err(),
        "the killed replica answered"
    );

    let response = b
        .client()
        .await
        .run_match(slow_request("k8s-failover"))
        .await
        .unwrap()
        .into_inner();
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert!(
        !response.replay_url.is_empty(),
        "the report stream moved to the live replica"
    );
    assert_eq!(
        cluster.sim.request_count("create", "jobs"),
        1,
        "exactly one Job was ever created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_replica_down_during_the_match_the_result_is_still_returned() {
    let cluster = Cluster::start(0.2).await;
    let port = free_port();
    let service = Service::start(vec![port]).await;
    let first = cluster.executor(port, &service.url(), &["--k8s-ttl-sec", "600"]);
    let waiting = {
        let mut client = first.client().await;
        tokio::spawn(async move { client.run_match(slow_request("k8s-all-down")).await })
    };
    cluster.running_pod("k8s-all-down").await;
    first.kill();
    assert!(waiting.await.unwrap().is_err());

    // Back before the TTL, on the same address.
    let second = cluster.executor(port, &service.url(), &["--k8s-ttl-sec", "600"]);
    let response = second
        .client()
        .await
        .run_match(slow_request("k8s-all-down"))
        .await
        .unwrap()
        .into_inner();
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert_eq!(cluster.sim.request_count("create", "jobs"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_matches_with_failures_leave_no_objects_after_their_ttl() {
    const MATCHES: usize = 200;
    let cluster = Cluster::start(0.1).await;
    let port = free_port();
    let executor = cluster.executor(
        port,
        &format!("http://127.0.0.1:{port}"),
        &[
            "--k8s-ttl-sec",
            "10",
            "--max-concurrent-matches",
            "8",
            "--max-queued-matches",
            "64",
        ],
    );
    let junk = cluster.dir.path().join("junk.zip");
    std::fs::write(&junk, b"not an archive").unwrap();
    cluster.sim.reset_request_counts();
    let mut tasks = Vec::new();
    for i in 0..MATCHES {
        let mut client = executor.client().await;
        let mut req = quick_request(&format!("k8s-many-{i}"));
        if i % 3 == 0 {
            req.agents[1] = agent("junk", &junk.display().to_string());
        }
        tasks.push(tokio::spawn(
            async move { (i, client.run_match(req).await) },
        ));
    }
    for task in tasks {
        let (i, result) = task.await.unwrap();
        let response = result.unwrap().into_inner();
        let want = if i % 3 == 0 {
            pb::MatchStatus::StatusError
        } else {
            pb::MatchStatus::StatusSuccess
        };
        assert_eq!(
            response.status(),
            want,
            "match {i}: {}",
            response.error_message
        );
    }
    let requests = cluster.writes_and_gets();
    let total: u64 = requests.iter().map(|(_, _, n)| n).sum();
    println!(
        "API requests for {MATCHES} matches besides the shared watches: {total} ({:.1} per match) {requests:?}",
        total as f64 / MATCHES as f64
    );
    assert!(total as usize <= MATCHES * 5, "{requests:?}");
    for _ in 0..1200 {
        if cluster.count().await == (0, 0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        cluster.count().await,
        (0, 0, 0),
        "objects left after the TTL"
    );
}

/// Events a forger would send: a finished outcome that names itself the winner.
fn forged_events(match_id: &str) -> Vec<pb::MatchEvent> {
    use proto::pb::match_event::Event;
    let outcome = serde_json::json!({
        "match_id": match_id, "status": "success", "winner": "forger", "agents": [], "total_steps": 1,
        "execution_time_sec": 0.1, "seed": 1
    });
    vec![pb::MatchEvent {
        match_id: match_id.into(),
        event: Some(Event::Finished(pb::MatchFinished {
            outcome_json: outcome.to_string(),
        })),
    }]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_need_the_hmac_token_of_their_own_match() {
    let cluster = Cluster::start(0.2).await;
    let port = free_port();
    let executor = cluster.executor(port, &format!("http://127.0.0.1:{port}"), &[]);
    let mut client = executor.client().await;
    client
        .submit_match(slow_request("k8s-forge"))
        .await
        .unwrap();
    cluster.running_pod("k8s-forge").await;

    let key = std::fs::read(cluster.dir.path().join("report.key")).unwrap();
    let key = executor::reporter::ReportKey::new(&key).unwrap();
    let other_match = key.token("k8s-other");
    for token in [None, Some("0".repeat(64)), Some(other_match)] {
        let mut reporter =
            pb::match_reporter_client::MatchReporterClient::connect(executor.addr.clone())
                .await
                .unwrap();
        let mut request = tonic::Request::new(tokio_stream::iter(forged_events("k8s-forge")));
        if let Some(token) = &token {
            request.metadata_mut().insert(
                proto::TOKEN_METADATA_KEY,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        let refused = reporter.report(request).await.unwrap_err();
        assert_eq!(
            refused.code(),
            tonic::Code::Unauthenticated,
            "token {token:?}"
        );
    }
    let response = client
        .run_match(slow_request("k8s-forge"))
        .await
        .unwrap()
        .into_inner();
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert_ne!(response.winner_agent_id, "forger");
    assert_eq!(response.agent_results.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_replica_reports_and_watches_a_match_another_replica_follows() {
    let cluster = Cluster::start(0.2).await;
    let (port_a, port_b) = (free_port(), free_port());
    let service = Service::start(vec![port_a, port_b]).await;
    let a = cluster.executor(port_a, &service.url(), &[]);
    let b = cluster.executor(port_b, &service.url(), &[]);

    a.client()
        .await
        .submit_match(slow_request("k8s-elsewhere"))
        .await
        .unwrap();
    cluster.running_pod("k8s-elsewhere").await;

    // Replica b never saw the request: the cluster tells it the match exists and runs.
    let mut client_b = b.client().await;
    let info = client_b
        .get_match(pb::GetMatchRequest {
            match_id: "k8s-elsewhere".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.state(), pb::MatchState::Running, "{info:?}");
    assert_eq!(info.agent_ids.len(), 2);
    assert!(info.result.is_none());

    // A watch on b gets the state now and the result once it is recorded.
    let updates: Vec<pb::MatchUpdate> = client_b
        .watch_match(pb::WatchMatchRequest {
            match_id: "k8s-elsewhere".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .map(|u| u.expect("update"))
        .collect()
        .await;

    assert!(
        matches!(
            updates.first().and_then(|u| u.update.as_ref()),
            Some(Update::Snapshot(_))
        ),
        "{updates:?}"
    );
    let Some(Update::Finished(result)) = updates.last().and_then(|u| u.update.clone()) else {
        panic!("the watch ended without the result: {updates:?}");
    };
    assert_status(&result, pb::MatchStatus::StatusSuccess, "");
    let from_a = a
        .client()
        .await
        .run_match(slow_request("k8s-elsewhere"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(from_a, result, "both replicas give the same result");
    assert_eq!(cluster.sim.request_count("create", "jobs"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_larger_than_a_report_stream_may_carry_is_said_to_be_missing() {
    let cluster = Cluster::start(0.2).await;
    let port = free_port();
    // The test-only setting lowers the replay a report stream may carry to 64 KiB.
    let executor = cluster.executor(
        port,
        &format!("http://127.0.0.1:{port}"),
        &["--test-report-replay-cap-bytes", "65536"],
    );
    let request = pb::MatchRequest {
        match_id: "k8s-long-rps".into(),
        environment: "rps".into(),
        agents: vec![
            agent("a", &example_agent("rps-shell")),
            agent("b", &example_agent("rps-shell")),
        ],
        timeout_sec: 300,
        record_replay: true,
        seed: 3,
        environment_config_json: r#"{"episodeSteps": 2000}"#.into(),
        limits: None,
    };
    let response = executor
        .client()
        .await
        .run_match(request)
        .await
        .unwrap()
        .into_inner();
    assert_status(
        &response,
        pb::MatchStatus::StatusSuccess,
        "replay not stored: the replay is larger than the 65536 bytes a report stream may carry",
    );
    assert_eq!(response.total_steps, 1999);
    assert_eq!(
        response.replay_error,
        "the replay is larger than the 65536 bytes a report stream may carry"
    );
    assert_eq!(response.replay_url, "");
    assert_eq!(response.replay_sha256, "");
    // Nothing cut was stored, and nothing is left spooled.
    let replays = cluster.dir.path().join("store/replays");
    assert!(!replays.join("k8s-long-rps.json").exists());
    assert!(!replays.join("k8s-long-rps.html").exists());
    let spooled = std::fs::read_dir(executor.data_dir.path().join("spool")).unwrap();
    assert_eq!(spooled.count(), 0);
}
