//! Each agent of a Kubernetes match in a container of its own, against the project's API simulator with the real
//! binaries: an agent given as an image runs from that image (the simulator's `sim-agents/<example>` holds the
//! example as its `/app`), an agent given as code in the runtime image, each behind the agent shim, over a
//! Unix socket shared with the orchestrator only, as the users of their seats (when the tests run as root).
//! Covers a normal match, an agent that crashes, an agent container OOM-killed mid-match, an agent image that
//! cannot be pulled (the agent's fault) and a cancel.

mod kube_cluster;
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube_cluster::*;
use proto::pb;
use support::{agent, cancel, example_agent, get_match, pong_request, test_agent, wait_for_step};

/// An agent given as an image.
fn image_agent(id: &str, image: &str) -> pb::AgentData {
    pb::AgentData {
        agent_id: id.into(),
        docker_image: image.into(),
        ..Default::default()
    }
}

/// How each container of the pod ended: (name, exit code, reason).
fn ends(pod: &Pod) -> Vec<(String, i32, String)> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            Some((
                c.name.clone(),
                t.exit_code,
                t.reason.clone().unwrap_or_default(),
            ))
        })
        .collect()
}

/// Waits until every container of the match's one pod ended; returns the pod.
async fn ended_pod(cluster: &Cluster, match_id: &str) -> Pod {
    for _ in 0..600 {
        let pods = cluster.pods_of(match_id).await;
        assert!(
            pods.len() <= 1,
            "the match's pod was replaced: {}",
            pods.len()
        );
        if let Some(pod) = pods.into_iter().next() {
            if ends(&pod).len() == 3 {
                return pod;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the containers of {match_id} did not all end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_agent_and_a_code_agent_play_each_in_its_own_container() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&["--k8s-ttl-sec", "600"]);
    let request = pong_request(
        "k8s-seats",
        image_agent("tracker", &agent_image("pong-python")),
        agent("random", &example_agent("random-python")),
    );
    let response = executor.run(request).await;
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert!(response.total_steps > 0);
    for result in &response.agent_results {
        assert_eq!(result.status(), pb::AgentStatus::Ok, "{result:?}");
        let applied = &result.isolation.as_ref().unwrap().applied;
        for layer in ["seccomp", "landlock_fs", "rlimits", "no_new_privs"] {
            assert!(applied.iter().any(|l| l == layer), "{layer}: {result:?}");
        }
        if is_root() {
            assert!(
                applied.iter().any(|l| l == "dedicated_uid"),
                "each seat's container runs as a user of its own: {result:?}"
            );
        }
    }
    // Every container ended with 0: the shims end when the orchestrator ends them.
    let pod = ended_pod(&cluster, "k8s-seats").await;
    let mut ends = ends(&pod);
    ends.sort();
    assert_eq!(
        ends,
        [
            ("agent-1".to_string(), 0, "Completed".to_string()),
            ("agent-2".into(), 0, "Completed".into()),
            ("match-orchestrator".into(), 0, "Completed".into()),
        ]
    );
    let spec = pod.spec.unwrap();
    let image_of = |name: &str| {
        spec.containers
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.image.clone())
    };
    assert_eq!(image_of("agent-1"), Some(agent_image("pong-python")));
    assert_eq!(image_of("agent-2").as_deref(), Some(RUNTIME_IMAGE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_crashes_in_its_container_loses_and_its_container_ends_with_0() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&["--k8s-ttl-sec", "600"]);
    let request = pong_request(
        "k8s-seat-crash",
        image_agent("steady", &agent_image("pong-python")),
        agent("crasher", &test_agent("crash-at-step-3")),
    );
    let response = executor.run(request).await;
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    let crasher = &response.agent_results[1];
    assert_eq!(crasher.status(), pb::AgentStatus::Crashed, "{crasher:?}");
    assert!(
        crasher.error_message.contains("exited with status 3"),
        "{crasher:?}"
    );
    assert!(crasher.stderr_tail.contains("giving up now"), "{crasher:?}");
    assert_eq!(response.winner_agent_id, "steady");
    let pod = ended_pod(&cluster, "k8s-seat-crash").await;
    assert!(
        ends(&pod).iter().all(|(_, code, _)| *code == 0),
        "the crash is the agent's, not its container's: {:?}",
        ends(&pod)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_container_oom_killed_mid_match_is_that_agents_crash_and_the_job_is_not_retried() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&["--k8s-ttl-sec", "600"]);
    let waiting = executor
        .run_in_background(slow_request("k8s-seat-oom"))
        .await;
    let pod = cluster.running_container("k8s-seat-oom", "agent-2").await;
    // Mid-match: both agents played a step.
    let mut client = executor.client().await;
    let _watch = wait_for_step(&mut client, "k8s-seat-oom", 1).await;
    cluster.sim.oom_kill(NS, &pod, "agent-2").unwrap();
    let response = waiting.await.unwrap().unwrap();

    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    let victim = &response.agent_results[1];
    assert_eq!(victim.status(), pb::AgentStatus::Crashed, "{victim:?}");
    assert!(
        victim.error_message.contains("ended with its container"),
        "{victim:?}"
    );
    assert_eq!(response.agent_results[0].status(), pb::AgentStatus::Ok);
    assert_eq!(response.winner_agent_id, "a");
    // The pod failed for that container, and the Job failed with it: nothing was played again.
    let pod = ended_pod(&cluster, "k8s-seat-oom").await;
    assert!(
        ends(&pod).contains(&("agent-2".into(), 137, "OOMKilled".into())),
        "{:?}",
        ends(&pod)
    );
    assert_eq!(pod.status.and_then(|s| s.phase).as_deref(), Some("Failed"));
    assert_eq!(cluster.sim.request_count("create", "jobs"), 1);
    assert_eq!(cluster.pods_of("k8s-seat-oom").await.len(), 1);
    let info = get_match(&mut client, "k8s-seat-oom").await;
    assert_eq!(
        info.result.unwrap().status(),
        pb::MatchStatus::StatusSuccess,
        "the recorded result stands"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_image_that_cannot_be_pulled_is_the_agents_fault() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&["--k8s-ttl-sec", "600"]);
    cluster.sim.fail_image_pull("sim-agents/*");
    let request = pong_request(
        "k8s-seat-pull",
        agent("random", &example_agent("random-python")),
        image_agent("ghost", &agent_image("pong-python")),
    );
    let response = executor.run(request).await;
    assert_status(
        &response,
        pb::MatchStatus::StatusError,
        "agent ghost: its image \"sim-agents/pong-python:1\" could not be pulled",
    );
    let ghost = &response.agent_results[1];
    assert_eq!(ghost.status(), pb::AgentStatus::Error, "{ghost:?}");
    assert!(
        ghost.error_message.contains("could not be pulled"),
        "{ghost:?}"
    );
    assert_eq!(response.agent_results[0].status(), pb::AgentStatus::Ok);
    // The match's Job is deleted: its pod could still have run.
    for _ in 0..300 {
        if cluster.count().await == (0, 0, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the match left objects: {:?}", cluster.count().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_every_container_of_the_match() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&[]);
    let mut client = executor.client().await;
    let mut request = slow_request("k8s-seat-cancel");
    request.agents[0] = image_agent("image", &agent_image("pong-python"));
    client.submit_match(request).await.unwrap();
    cluster
        .running_container("k8s-seat-cancel", "agent-1")
        .await;
    cluster
        .running_container("k8s-seat-cancel", "agent-2")
        .await;
    let info = cancel(&mut client, "k8s-seat-cancel").await;
    assert_eq!(
        info.result.unwrap().status(),
        pb::MatchStatus::StatusCancelled
    );
    for _ in 0..300 {
        if cluster.count().await == (0, 0, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the cancelled match left objects: {:?}",
        cluster.count().await
    );
}
