//! What a real cluster does that a naive backend gets wrong, each against the API simulator that models it
//! (`testkit/kube-sim/README.md` names the Kubernetes source of each): Jobs named `match-<id>`, an
//! immutable Secret left over from an earlier Job, container creation errors the kubelet retries, a
//! ResourceQuota that refuses the match pod, a budget that counts pod start-up and ends with the result as
//! it stands, the first recorded result staying final, the termination message as the fallback result, and
//! match pods sized from their agents' memory.

mod kube_cluster;
mod support;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use kube_cluster::*;
use proto::pb;
use std::time::Duration;

/// Waits until the match has no pod left (its orchestrator has exited and reported, or never will).
async fn pods_gone(cluster: &Cluster, match_id: &str) {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), NS);
    let lp = ListParams::default().labels(&format!("match-id={match_id}"));
    for _ in 0..600 {
        if pods.list(&lp).await.unwrap().items.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the pods of {match_id} never went");
}

async fn get_result(replica: &Replica, match_id: &str) -> pb::MatchResponse {
    replica
        .client()
        .await
        .get_match(pb::GetMatchRequest {
            match_id: match_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .expect("a recorded result")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_of_a_uuid_match_is_match_dash_id_named_in_the_log_and_by_get_match() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&[]);
    let id = "0b6f4d1e-6c1a-4f57-9d33-2f8e61a0c0de";
    let response = executor.run(quick_request(id)).await;
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    let name = format!("match-{id}");
    let job = cluster.jobs().get(&name).await.unwrap();
    let labels = job.metadata.labels.unwrap();
    assert_eq!(labels["match-id"], id);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), NS);
    let pod = pods
        .list(&ListParams::default().labels(&format!("job-name={name}")))
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(
        pod.metadata.name.unwrap().starts_with(&format!("{name}-")),
        "pods are match-<id>-xxxxx"
    );
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), NS);
    let secret = secrets
        .list(&ListParams::default().labels(&format!("match-id={id}")))
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(
        secret
            .metadata
            .name
            .clone()
            .unwrap()
            .starts_with(&format!("{name}-"))
    );
    assert_eq!(
        secret.metadata.owner_references.unwrap()[0].uid,
        job.metadata.uid.unwrap(),
        "the Secret is owned by its Job"
    );
    assert!(
        secret
            .metadata
            .annotations
            .unwrap()
            .contains_key("rl-arena.dev/fingerprint")
    );
    let info = executor
        .client()
        .await
        .get_match(pb::GetMatchRequest {
            match_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.job_name, name, "GetMatch names the Job");
    let log = executor.logged();
    assert!(
        log.lines()
            .any(|l| l.contains("\"match job\"") && l.contains(&format!("\"job\":\"{name}\""))),
        "the Job's name is logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_secret_left_by_an_earlier_job_is_never_mounted_or_changed() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&[]);
    // A Secret named like the match's Job, with other data and no owner (an earlier Job deleted with its
    // dependents orphaned): the real API refuses to change its data.
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), NS);
    let leftover: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "match-k8s-leftover"},
        "immutable": true,
        "stringData": {"spec.json": "{}", "token": "stale"},
    }))
    .unwrap();
    let leftover = secrets
        .create(&PostParams::default(), &leftover)
        .await
        .unwrap();
    cluster.sim.reset_request_counts();
    let response = executor.run(quick_request("k8s-leftover")).await;
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert_eq!(cluster.sim.request_count("create", "secrets"), 1);
    assert_eq!(cluster.sim.request_count("patch", "secrets"), 0);
    assert_eq!(
        secrets
            .get("match-k8s-leftover")
            .await
            .unwrap()
            .metadata
            .uid,
        leftover.metadata.uid,
        "the leftover is left alone"
    );
    let owned: Vec<Secret> = secrets
        .list(&ListParams::default().labels("match-id=k8s-leftover"))
        .await
        .unwrap()
        .items;
    assert_eq!(owned.len(), 1);
    assert!(owned[0].metadata.owner_references.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_creation_errors_get_a_grace_and_fail_when_they_last() {
    let cluster = Cluster::start(0.05).await;
    let executor = cluster.replica(&["--k8s-transient-grace-sec", "3"]);
    let mut client = executor.client().await;
    // A fresh node: the orchestrator's container fails to be created twice, then starts.
    cluster
        .sim
        .transient_container_error(kube_sim::TransientError {
            container: "match-orchestrator".into(),
            reason: "CreateContainerError".into(),
            times: 2,
        });
    let response = client
        .run_match(quick_request("k8s-fresh-node"))
        .await
        .unwrap()
        .into_inner();
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");

    // One that does not clear fails the match once the grace is over.
    cluster
        .sim
        .transient_container_error(kube_sim::TransientError {
            container: "agent-1-init".into(),
            reason: "CreateContainerConfigError".into(),
            times: 1_000_000,
        });
    let response = client
        .run_match(quick_request("k8s-broken-node"))
        .await
        .unwrap()
        .into_inner();
    assert_status(
        &response,
        pb::MatchStatus::StatusError,
        "container agent-1-init could not be created (CreateContainerConfigError)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_that_refuses_the_match_pod_is_a_capacity_error_with_its_message() {
    let cluster = Cluster::start(1.0).await;
    let executor = cluster.replica(&[]);
    cluster.sim.exhaust_quota(Some("rl-arena-matches"));
    // A long budget: the answer comes from the FailedCreate event, not from the deadline.
    let mut req = quick_request("k8s-quota");
    req.timeout_sec = 3600;
    let response = executor.run(req).await;
    assert_status(
        &response,
        pb::MatchStatus::StatusError,
        "RESOURCE_EXHAUSTED: the match pod could not be created",
    );
    assert!(
        response
            .error_message
            .contains("exceeded quota: rl-arena-matches"),
        "{}",
        response.error_message
    );
    // The failed match's Job is deleted, so the controller stops trying.
    for _ in 0..300 {
        if cluster.count().await.0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cluster.count().await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_counts_from_the_job_and_a_timeout_keeps_what_was_played() {
    let cluster = Cluster::start(1.0).await;
    let executor = cluster.replica(&[]);
    let mut req = slow_request("k8s-budget");
    req.environment_config_json = r#"{"winning_score": 21, "max_steps": 100000}"#.into();
    req.timeout_sec = 4;
    let response = executor.run(req).await;
    assert_status(
        &response,
        pb::MatchStatus::StatusTimeout,
        "within its budget of 4 s (pod start-up and agent installs included)",
    );
    assert!(
        response.total_steps > 0
            && response
                .error_message
                .contains("what was played until then"),
        "the stopped orchestrator's report of what was played is the result: {response:?}"
    );
    assert!(!response.replay_url.is_empty(), "with its replay");
    let job = cluster.jobs().get("match-k8s-budget").await.unwrap();
    assert_eq!(
        job.spec.unwrap().active_deadline_seconds,
        Some(4),
        "the Job's deadline is the budget"
    );
    // Nothing that comes later changes it.
    pods_gone(&cluster, "k8s-budget").await;
    assert_eq!(get_result(&executor, "k8s-budget").await, response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_match_stays_cancelled_when_its_stopped_orchestrator_reports() {
    let cluster = Cluster::start(1.0).await;
    let executor = cluster.replica(&[]);
    let mut client = executor.client().await;
    client
        .submit_match(slow_request("k8s-cancel-final"))
        .await
        .unwrap();
    cluster.running_pod("k8s-cancel-final").await;
    let cancelled = client
        .cancel_match(pb::CancelMatchRequest {
            match_id: "k8s-cancel-final".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(cancelled.status(), pb::MatchStatus::StatusCancelled);
    // The orchestrator, stopped, still reports what it played; the answer given stays the result.
    pods_gone(&cluster, "k8s-cancel-final").await;
    assert_eq!(get_result(&executor, "k8s-cancel-final").await, cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_report_the_result_comes_from_the_termination_message() {
    let cluster = Cluster::start(0.2).await;
    let port = free_port();
    // Match pods report to an address where nobody listens.
    let executor = cluster.executor(port, &format!("http://127.0.0.1:{}", free_port()), &[]);
    let response = executor.run(quick_request("k8s-no-report")).await;
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    assert!(response.total_steps > 0);
    assert_eq!(response.agent_results.len(), 2);
    let job = cluster.jobs().get("match-k8s-no-report").await.unwrap();
    let args = job.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert!(
        args.windows(2).any(|w| w == ["--result-max-bytes", "4096"]),
        "three containers share the pod's 12 KiB: {args:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_pods_are_sized_from_their_agents_and_a_match_that_cannot_fit_is_refused() {
    let cluster = Cluster::start(0.2).await;
    let executor = cluster.replica(&["--k8s-sidecar-containers", "1", "--k8s-match-uid", "47000"]);
    let mut client = executor.client().await;
    let mut req = quick_request("k8s-sized");
    req.limits = Some(pb::MatchLimits {
        memory_mb: 1024,
        ..Default::default()
    });
    let response = client.run_match(req).await.unwrap().into_inner();
    assert_status(&response, pb::MatchStatus::StatusSuccess, "");
    let pod = cluster
        .jobs()
        .get("match-k8s-sized")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let orchestrator = &pod.containers[0];
    let limits = orchestrator.resources.clone().unwrap().limits.unwrap();
    assert_eq!(limits["memory"].0, "2560Mi", "2 × 1024 MiB + 512 MiB");
    assert_eq!(pod.security_context.unwrap().run_as_user, Some(47000));
    let args = orchestrator.args.clone().unwrap();
    assert!(
        args.windows(2).any(|w| w == ["--result-max-bytes", "3072"]),
        "a sidecar takes its share: {args:?}"
    );

    let mut req = quick_request("k8s-too-big");
    req.limits = Some(pb::MatchLimits {
        memory_mb: 8192,
        ..Default::default()
    });
    let refused = client.run_match(req).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("limits.memory_mb"),
        "{}",
        refused.message()
    );
    assert!(
        cluster
            .jobs()
            .get_opt("match-k8s-too-big")
            .await
            .unwrap()
            .is_none()
    );
}
