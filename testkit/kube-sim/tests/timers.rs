//! Time-driven behaviour on a fast clock (one simulated second = 20 ms): TTL after finished
//! deletes the Job and its pods, `activeDeadlineSeconds` fails the Job and kills its pod.

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
