//! The `kube-sim` binary as a child process: URL on stdout, a kubeconfig file kube-rs reads,
//! image mappings from flags, and the `/_sim/...` admin endpoints over HTTP.

mod support;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use kube_sim::SimProcess;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_the_api_and_admin_endpoints() {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_kube-sim"));
    let sim = SimProcess::spawn(
        binary,
        &[
            "--image",
            "sim/shell=/bin/sh",
            "--namespace",
            NS,
            "--time-scale",
            "0.05",
        ],
    )
    .expect("kube-sim starts");
    assert!(sim.url().starts_with("http://127.0.0.1:"));
    let client = client_for(sim.kubeconfig_path()).await;
    // The kubeconfig's context namespace is the default one.
    assert_eq!(client.default_namespace(), NS);
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    jobs.create(&PostParams::default(), &shell_job("child", "echo hi"))
        .await
        .expect("create");
    assert_eq!(finished(&jobs, "child").await.0, "Complete");

    let (code, body) = sim
        .admin("GET", "/_sim/requests", "")
        .expect("admin requests");
    assert_eq!(code, 200);
    let counts: Vec<kube_sim::RequestCount> = serde_json::from_str(&body).expect("counts json");
    assert!(
        counts
            .iter()
            .any(|c| c.verb == "create" && c.resource == "jobs" && c.count == 1),
        "{counts:?}"
    );

    let injection = r#"{"verb":"get","resource":"jobs","code":503,"count":1}"#;
    assert_eq!(
        sim.admin("POST", "/_sim/faults/errors", injection)
            .expect("inject")
            .0,
        200
    );
    match jobs.get("child").await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 503),
        other => panic!("expected the injected 503, got {other:?}"),
    }
    assert!(jobs.get("child").await.is_ok());
    // An exhausted quota refuses the next Job's pod until it is cleared; a transient creation error clears.
    let post = |path: &str, body: &str| sim.admin("POST", path, body).expect("admin").0;
    assert_eq!(post("/_sim/faults/quota", r#"{"quota":"q"}"#), 200);
    assert_eq!(
        post(
            "/_sim/faults/transient",
            r#"{"container":"main","reason":"CreateContainerError","times":1}"#
        ),
        200
    );
    jobs.create(&PostParams::default(), &shell_job("later", "echo hi"))
        .await
        .expect("create");
    eventually("a FailedCreate event", || async {
        let events: Api<k8s_openapi::api::core::v1::Event> =
            Api::default_namespaced(client.clone());
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedCreate"))
    })
    .await;
    assert!(job_pods(&client, "later").await.is_empty());
    assert_eq!(post("/_sim/faults/quota", r#"{"quota":""}"#), 200);
    assert_eq!(finished(&jobs, "later").await.0, "Complete");
    assert_eq!(
        post("/_sim/faults/transient", r#"{"container":"main"}"#),
        400
    );
    assert_eq!(
        sim.admin("POST", "/_sim/nonsense", "{}").expect("admin").0,
        404
    );
}
