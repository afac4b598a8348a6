//! Time-driven behaviour on a fast clock (one simulated second = 20 ms): TTL after finished
//! deletes the Job and its pods, `activeDeadlineSeconds` fails the Job and kills its pod, and
//! the terminal conditions come after the interim ones, once the pods are gone.

mod support;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_are_deleted_after_their_ttl() {
    let (_sim, client) = start(0.02).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut job = shell_job("ttl", "exit 0");
    job.spec.as_mut().expect("spec").ttl_seconds_after_finished = Some(10);
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let (done, _, _) = finished(&jobs, "ttl").await;
    assert_eq!(done, "Complete");
    eventually(
        "the ttl controller to delete the job and its pod",
        || async {
            (jobs.get_opt("ttl").await.ok()?.is_none() && job_pods(&client, "ttl").await.is_empty())
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_fails_the_job_and_kills_the_pod() {
    let (_sim, client) = start(0.02).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut job = shell_job("deadline", "exec sleep 600");
    job.spec.as_mut().expect("spec").active_deadline_seconds = Some(5);
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let (done, reason, message) = finished(&jobs, "deadline").await;
    assert_eq!(
        (done.as_str(), reason.as_str()),
        ("Failed", "DeadlineExceeded")
    );
    assert_eq!(message, "Job was active longer than specified deadline");
    eventually("the pod to be killed and removed", || async {
        job_pods(&client, "deadline").await.is_empty().then_some(())
    })
    .await;
    let job = jobs.get("deadline").await.expect("job");
    assert_eq!(job.status.and_then(|s| s.active), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_fails_only_once_its_stopped_pod_is_gone() {
    let (_sim, client) = start(0.02).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    // The container ignores SIGTERM and the grace period is long: the pod stays terminating.
    let mut job = shell_job("stopping", "trap '' TERM; while :; do sleep 1; done");
    job.spec.as_mut().expect("spec").active_deadline_seconds = Some(2);
    pod_spec_mut(&mut job).termination_grace_period_seconds = Some(100_000);
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let job = eventually("FailureTarget", || async {
        let job = jobs.get("stopping").await.ok()?;
        condition(&job, "FailureTarget").map(|_| job)
    })
    .await;
    assert_eq!(
        condition(&job, "FailureTarget").map(|c| c.0).as_deref(),
        Some("DeadlineExceeded")
    );
    let pod = first_pod(&client, "stopping").await;
    assert!(
        pod.metadata.deletion_timestamp.is_some(),
        "the pod is being stopped"
    );
    let job = jobs.get("stopping").await.expect("job");
    assert_eq!(
        condition(&job, "Failed"),
        None,
        "not before the pod is gone"
    );
    // Once the pod goes (forced here), the Job fails.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), NS);
    pods.delete(
        &pod_name(&pod),
        &kube::api::DeleteParams::default().grace_period(0),
    )
    .await
    .expect("force delete");
    let (done, reason, _) = finished(&jobs, "stopping").await;
    assert_eq!(
        (done.as_str(), reason.as_str()),
        ("Failed", "DeadlineExceeded")
    );
    let job = jobs.get("stopping").await.expect("job");
    assert_eq!(job.status.and_then(|s| s.terminating), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_job_first_meets_its_success_criteria() {
    let (_sim, client) = start(0.02).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.create(&PostParams::default(), &shell_job("done", "exit 0"))
        .await
        .expect("create");
    let (done, reason, _) = finished(&jobs, "done").await;
    assert_eq!(
        (done.as_str(), reason.as_str()),
        ("Complete", "CompletionsReached")
    );
    let job = jobs.get("done").await.expect("job");
    let types: Vec<String> = job
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
}
