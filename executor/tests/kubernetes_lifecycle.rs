//! Whole matches through `executor serve --backend kubernetes` against the project's API simulator
//! (`kube-sim`): the executor binary, unmodified, reaches it through a kubeconfig; match pods run the real
//! `agent-init` and `orchestrator` binaries. Covers a full pong match, each failure cause with its status,
//! replicas killed mid-match, every replica down and back, objects gone after the TTL, and API requests per
//! match.

mod kube_cluster;
mod support;

use std::time::Duration;

use kube_cluster::*;
use proto::pb;
use proto::pb::match_update::Update;
use support::{
    agent, assert_cancelled_after_play, cancel, eventually, get_match, peak_memory,
    reset_peak_memory, rps_request, stored_replay, wait_for_play_on,
};
use tokio_stream::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pong_match_runs_as_one_job_with_a_handful_of_requests_and_leaves_nothing_after_its_ttl()
{
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&["--k8s-ttl-sec", "5"]);
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
    assert_eq!(count("patch", "secrets"), 0, "the Secret is created owned");
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
    cluster
        .assert_emptied(600, "objects left after the TTL")
        .await;
}

/// Every agent of a match that failed before its orchestrator started is reported not started.
#[track_caller]
fn assert_not_started(response: &pb::MatchResponse) {
    for agent in &response.agent_results {
        assert_eq!(
            agent.status(),
            pb::AgentStatus::NotStarted,
            "{}: {agent:?}",
            response.match_id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_ends_the_match_with_its_status_and_cause() {
    let cluster = Cluster::start(0.05).await;
    let executor = cluster.replica(&[
        "--k8s-startup-budget-sec",
        "1",
        "--k8s-deadline-slack-sec",
        "1",
        "--k8s-ttl-sec",
        "600",
    ]);
    let mut client = executor.client().await;

    // A bad artifact is the agent's fault (agent-init exit 10), with agent-init's message.
    let junk = cluster.uploads().join("junk.zip");
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
    // The other agent never ran: its orchestrator never started.
    assert_eq!(
        response.agent_results[0].status(),
        pb::AgentStatus::NotStarted
    );

    // An unreachable source is the infrastructure's fault (exit 11).
    let mut req = quick_request("k8s-unreachable");
    req.agents[0] = agent(
        "far",
        &format!("http://127.0.0.1:{}/agent.zip", free_port()),
    );
    let response = client.run_match(req).await.unwrap().into_inner();
    assert_status(&response, pb::MatchStatus::StatusError, "infrastructure");
    assert_not_started(&response);

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
    assert_not_started(&response);

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
    assert_not_started(&response);

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
        let waiting = executor.run_in_background(slow_request(match_id)).await;
        let pod = cluster.running_pod(match_id).await;
        if cause == "OOMKilled" {
            cluster
                .sim
                .oom_kill(NS, &pod, "match-orchestrator")
                .unwrap();
        } else {
            cluster.sim.lose_node();
        }
        let response = waiting.await.unwrap().unwrap();
        assert_status(&response, pb::MatchStatus::StatusError, cause);
        // The agents ran.
        assert!(
            response
                .agent_results
                .iter()
                .all(|a| a.status() == pb::AgentStatus::Ok),
            "{response:?}"
        );
    }

    // Failed matches whose pods could still run were deleted.
    let jobs = cluster.jobs();
    for name in ["match-k8s-pull", "match-k8s-unschedulable"] {
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
async fn past_the_budget_the_jobs_own_deadline_verdict_is_awaited_within_the_slack() {
    // A simulated second lasts five real ones: the Job's deadline (timeout_sec 2) comes 10 s after it
    // started, later than the 5 s past the budget after which the executor stops a match itself.
    let cluster = Cluster::start(5.0).await;
    let executor = cluster.replica(&[
        "--k8s-deadline-slack-sec",
        "30",
        "--k8s-startup-budget-sec",
        "600",
    ]);
    // The pod never runs: only the Job's deadline ends the match.
    cluster.sim.set_unschedulable(true);
    let mut request = quick_request("k8s-deadline-verdict");
    request.timeout_sec = 2;
    let response = executor.run(request).await;
    cluster.sim.set_unschedulable(false);
    // The Job's verdict, not the executor's own stop (which would delete the Job and say the budget ran out
    // before the agents started).
    assert_status(
        &response,
        pb::MatchStatus::StatusTimeout,
        "match did not finish within its budget of 2 s (pod start-up and agent installs included) and was \
         stopped",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_deletes_the_job_and_records_the_match_cancelled_with_what_was_played() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&[]);
    let mut client = executor.client().await;
    let info = client
        .submit_match(slow_request("k8s-cancel"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.match_id, "k8s-cancel");
    wait_for_play_on(executor.client().await, "k8s-cancel", 3).await;
    let info = cancel(&mut client, "k8s-cancel").await;
    // The stopped orchestrator's report is the result, and it says what happened: an API cancel.
    let result = info.result.unwrap();
    assert_cancelled_after_play(&result, "cancelled by a CancelMatch request", 3);
    // The replay of what was played came over the report stream and is stored whole.
    stored_replay(&result);
    // Foreground deletion: the Job goes once its pod (and Secret) are gone.
    cluster
        .assert_emptied(300, "the cancelled match left objects")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_does_not_follow_a_match_cancels_it_and_its_cancel_is_the_result() {
    let cluster = Cluster::start(0.2).await;
    // Reports go to a, which follows the match.
    let (_service, a, b) = cluster.two_replicas().await;
    let waiting = a.run_in_background(slow_request("k8s-cancel-b")).await;
    wait_for_play_on(a.client().await, "k8s-cancel-b", 3).await;

    let info = cancel(&mut b.client().await, "k8s-cancel-b").await;
    let cancelled = info.result.expect("result");
    assert_status(
        &cancelled,
        pb::MatchStatus::StatusCancelled,
        "cancelled by a CancelMatch request",
    );
    for agent in &cancelled.agent_results {
        assert_eq!(
            agent.status(),
            pb::AgentStatus::Ok,
            "the agents ran: {agent:?}"
        );
    }
    // The replica that followed the match answers with that result: the stopped orchestrator's report,
    // which came after it, does not replace it.
    let answered = waiting.await.unwrap().unwrap();
    assert_eq!(answered, cancelled);
    cluster
        .assert_emptied(300, "the cancelled match left objects")
        .await;
    eventually(
        "the stopped orchestrator's report reached a and was dropped",
        200,
        || {
            let log = a.log.lock().unwrap().clone();
            async move { log.contains("a report arrived after the match was recorded") }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_match_hands_the_match_to_the_other_with_one_job() {
    let cluster = Cluster::start(0.2).await;
    let (_service, a, b) = cluster.two_replicas().await;

    let waiting = a.run_in_background(slow_request("k8s-failover")).await;
    cluster.running_pod("k8s-failover").await;
    a.kill();
    assert!(
        waiting.await.unwrap().is_err(),
        "the killed replica answered"
    );

    let response = b.run(slow_request("k8s-failover")).await;
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
    let waiting = first.run_in_background(slow_request("k8s-all-down")).await;
    cluster.running_pod("k8s-all-down").await;
    first.kill();
    assert!(waiting.await.unwrap().is_err());

    // Back before the TTL, on the same address.
    let second = cluster.executor(port, &service.url(), &["--k8s-ttl-sec", "600"]);
    let response = second.run(slow_request("k8s-all-down")).await;
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert_eq!(cluster.sim.request_count("create", "jobs"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_matches_with_failures_leave_no_objects_after_their_ttl() {
    const MATCHES: usize = 200;
    let cluster = Cluster::start(0.1).await;
    // Two hundred clients on a machine busy with two hundred pods may take long to send their requests.
    let executor = cluster.replica(&[
        "--k8s-ttl-sec",
        "10",
        "--max-concurrent-matches",
        "8",
        // Room for every request at once: admission is not what this test is about, and on a loaded machine
        // the first matches may not have ended before the last requests arrive.
        "--max-queued-matches",
        "200",
        "--connection-first-request-timeout-ms",
        "120000",
    ]);
    let junk = cluster.uploads().join("junk.zip");
    std::fs::write(&junk, b"not an archive").unwrap();
    cluster.sim.reset_request_counts();
    let mut tasks = Vec::new();
    for i in 0..MATCHES {
        let mut client = executor.client().await;
        let mut req = quick_request(&format!("k8s-many-{i}"));
        // Every Job starts at once (the executor's slots gate only the waiting), and the simulator's clock
        // runs ten times faster than the 200 pods on this machine's cores: a budget (which counts from the
        // Job's start) that a real cluster would not need.
        req.timeout_sec = 1800;
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
    cluster
        .assert_emptied(1200, "objects left after the TTL")
        .await;
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
async fn a_large_replay_over_a_report_stream_is_stored_without_being_held_in_memory() {
    use proto::pb::match_event::Event;
    use sha2::Digest;
    const SIZE: usize = 96 * 1024 * 1024;
    const CHUNK: usize = 1024 * 1024;
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&["--k8s-startup-budget-sec", "600"]);
    // The match's own pod never runs: the report below, sent as its orchestrator would, is the only one.
    cluster.sim.set_unschedulable(true);
    let mut client = executor.client().await;
    client
        .submit_match(quick_request("k8s-big-replay"))
        .await
        .unwrap();

    // A JSON document of SIZE bytes, in the report stream's chunks.
    let chunk = |i: usize| -> Vec<u8> {
        let mut chunk = vec![b'x'; CHUNK.min(SIZE - i * CHUNK)];
        if i == 0 {
            chunk[..8].copy_from_slice(b"{\"pad\":\"");
        }
        if (i + 1) * CHUNK >= SIZE {
            let end = chunk.len();
            chunk[end - 2..].copy_from_slice(b"\"}");
        }
        chunk
    };
    let chunks = SIZE.div_ceil(CHUNK);
    let mut digest = sha2::Sha256::new();
    for i in 0..chunks {
        digest.update(chunk(i));
    }
    let digest = hex::encode(digest.finalize());
    let outcome = serde_json::json!({
        "match_id": "k8s-big-replay", "status": "success", "agents": [], "total_steps": 1,
        "execution_time_sec": 0.1, "seed": 1, "replay_sha256": digest,
    });
    let events = (0..chunks)
        .map(move |i| Event::ReplayChunk(pb::ReplayChunk { data: chunk(i) }))
        .chain([Event::Finished(pb::MatchFinished {
            outcome_json: outcome.to_string(),
        })])
        .map(|event| pb::MatchEvent {
            match_id: "k8s-big-replay".into(),
            event: Some(event),
        });
    let key = std::fs::read(cluster.dir.path().join("report.key")).unwrap();
    let token = executor::reporter::ReportKey::new(&key)
        .unwrap()
        .token("k8s-big-replay");
    let mut request = tonic::Request::new(tokio_stream::iter(events));
    request.metadata_mut().insert(
        proto::TOKEN_METADATA_KEY,
        format!("Bearer {token}").parse().unwrap(),
    );
    let pid = executor.child.id();
    reset_peak_memory(pid);
    pb::match_reporter_client::MatchReporterClient::connect(executor.addr.clone())
        .await
        .unwrap()
        .report(request)
        .await
        .expect("the report is recorded");
    let peak = peak_memory(pid);

    assert!(
        peak < SIZE as u64,
        "the executor's resident memory peaked at {peak} bytes receiving a {SIZE}-byte replay"
    );

    // It was recorded whole before the acknowledgement, and that first result stays: cancelling the match
    // now answers with it.
    let info = cancel(&mut client, "k8s-big-replay").await;
    cluster.sim.set_unschedulable(false);
    let result = info.result.expect("recorded");
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusSuccess,
        "{result:?}"
    );
    assert_eq!(result.replay_error, "");
    assert_eq!(result.replay_sha256, digest);
    let stored = std::fs::metadata(result.replay_url.strip_prefix("file://").unwrap()).unwrap();
    assert_eq!(stored.len(), SIZE as u64);
    let spooled = std::fs::read_dir(executor.data_dir.path().join("spool")).unwrap();
    assert_eq!(spooled.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_agent_reads_the_code_with_the_executors_own_orchestrator() {
    let cluster = Cluster::start(1.0).await;
    let executor = cluster.replica(&[]);
    let mut client = executor.client().await;
    let agents = tempfile::tempdir().unwrap();
    for (name, source) in [
        ("good", "def get_action(observation):\n    return 1\n"),
        ("broken", "def get_action(observation:\n"),
    ] {
        std::fs::create_dir(agents.path().join(name)).unwrap();
        std::fs::write(agents.path().join(name).join("agent.py"), source).unwrap();
    }
    let validate = |name: &str| pb::ValidationRequest {
        agent_id: name.into(),
        code_zip: testkit::zip_dir("", &agents.path().join(name)),
        environment: "pong".into(),
    };
    let good = client
        .validate_agent(validate("good"))
        .await
        .unwrap()
        .into_inner();
    assert!(good.valid, "{good:?}");
    assert!(
        good.warnings
            .iter()
            .any(|w| w.starts_with("smoke match skipped")),
        "{good:?}"
    );
    let broken = client
        .validate_agent(validate("broken"))
        .await
        .unwrap()
        .into_inner();
    assert!(!broken.valid, "{broken:?}");
    assert!(
        broken.errors[0].contains("agent.py: syntax error at line 1"),
        "{broken:?}"
    );
    assert_eq!(cluster.count().await, (0, 0, 0), "no Job for a validation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_need_the_hmac_token_of_their_own_match() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&[]);
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
    let (_service, a, b) = cluster.two_replicas().await;

    a.client()
        .await
        .submit_match(slow_request("k8s-elsewhere"))
        .await
        .unwrap();
    cluster.running_pod("k8s-elsewhere").await;

    // Replica b never saw the request: the cluster tells it the match exists and runs.
    let mut client_b = b.client().await;
    let info = get_match(&mut client_b, "k8s-elsewhere").await;
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
    let from_a = a.run(slow_request("k8s-elsewhere")).await;
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
        timeout_sec: 300,
        seed: 3,
        ..rps_request("k8s-long-rps", 2000)
    };
    let response = executor.run(request).await;
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
