//! The exact Kubernetes API requests of the backend, against a scripted API server (`tower_test` mock):
//! create the Job, then its Secret owned by it (never patched; a Job without its Secret is deleted); 409 on
//! create attaches (making a missing Secret) or conflicts; 429 is retried; cancel deletes in the foreground;
//! a watch answered 410 Gone lists again; the Jobs' FailedCreate events are watched.

use std::collections::HashMap;
use std::time::Duration;

use executor::backend::kubernetes::{Attached, JobApi, JobSettings, Tracker, job};
use executor::request::{AgentSource, MatchPlan};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{Value, json};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

const NS: &str = "rl-arena";

fn mock() -> (kube::Client, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, NS), handle)
}

fn plan(match_id: &str) -> MatchPlan {
    MatchPlan {
        match_id: match_id.into(),
        environment: "pong".into(),
        config: Default::default(),
        seed: 3,
        agents: vec![
            AgentSource {
                agent_id: "a".into(),
                source: "https://agents.example/a.zip".into(),
            },
            AgentSource {
                agent_id: "b".into(),
                source: "https://agents.example/b.zip".into(),
            },
        ],
        timeout: Duration::from_secs(60),
        record_replay: true,
        limits: Default::default(),
    }
}

fn objects(match_id: &str, fingerprint: &str) -> job::MatchObjects {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        k: executor::config::KubernetesArgs,
    }
    let args = Wrap::parse_from(["x"]).k;
    JobSettings::new(&args, "http://executor:50051")
        .unwrap()
        .build(&plan(match_id), fingerprint, "token")
        .unwrap()
}

/// One request as the mock server saw it.
struct Seen {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    body: Value,
    respond: tower_test::mock::SendResponse<Response<Body>>,
}

async fn next(handle: &mut Handle) -> Seen {
    let (request, respond) = tokio::time::timeout(Duration::from_secs(30), handle.next_request())
        .await
        .expect("the client sent no request in time")
        .expect("the client is gone");
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    Seen {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        respond,
    }
}

fn reply(seen: Seen, status: u16, body: Value) {
    seen.respond.send_response(
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap(),
    );
}

/// Expects the Job's create and answers that it was created, with uid `job-uid`.
async fn job_created(handle: &mut Handle) {
    let seen = next(handle).await;
    assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, JOBS));
    let body = seen.body.clone();
    reply(seen, 201, with_uid(body, "job-uid"));
}

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{reason} (scripted)"), "reason": reason, "code": code})
}

fn with_uid(mut object: Value, uid: &str) -> Value {
    object["metadata"]["uid"] = json!(uid);
    object["metadata"]["resourceVersion"] = json!("10");
    object
}

const JOBS: &str = "/apis/batch/v1/namespaces/rl-arena/jobs";
const SECRETS: &str = "/api/v1/namespaces/rl-arena/secrets";
const EVENTS: &str = "/api/v1/namespaces/rl-arena/events";

#[tokio::test]
async fn creates_the_job_then_its_secret_owned_by_it() {
    let (client, mut handle) = mock();
    let objects = objects("m-1", "fp-1");
    let scenario = tokio::spawn(async move {
        let seen = next(&mut handle).await;
        assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, JOBS));
        assert_eq!(
            seen.query.get("fieldManager").map(String::as_str),
            Some("rl-arena-executor")
        );
        assert_eq!(seen.body["kind"], "Job");
        assert_eq!(seen.body["metadata"]["name"], "match-m-1");
        assert_eq!(
            seen.body["metadata"]["annotations"]["rl-arena.dev/fingerprint"],
            "fp-1"
        );
        assert_eq!(seen.body["spec"]["backoffLimit"], 0);
        let secret_name = seen.body["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "match-spec")
            .unwrap()["secret"]["secretName"]
            .clone();
        assert!(
            secret_name.as_str().unwrap().starts_with("match-m-1-"),
            "{secret_name}"
        );
        let body = seen.body.clone();
        reply(seen, 201, with_uid(body, "job-uid"));

        let seen = next(&mut handle).await;
        assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, SECRETS));
        assert_eq!(
            seen.query.get("fieldManager").map(String::as_str),
            Some("rl-arena-executor")
        );
        assert_eq!(seen.body["kind"], "Secret");
        assert_eq!(seen.body["metadata"]["name"], secret_name);
        assert_eq!(seen.body["metadata"]["labels"]["match-id"], "m-1");
        assert_eq!(
            seen.body["metadata"]["annotations"]["rl-arena.dev/fingerprint"],
            "fp-1"
        );
        assert_eq!(seen.body["immutable"], true);
        assert_eq!(
            seen.body["metadata"]["ownerReferences"],
            json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "match-m-1", "uid": "job-uid"}]),
            "owned by its Job from the start"
        );
        assert!(seen.body["data"]["spec.json"].is_string());
        let body = seen.body.clone();
        reply(seen, 201, with_uid(body, "secret-uid"));
        // Nothing else: no patch of an immutable Secret.
        handle.next_request().await.is_none()
    });
    let api = JobApi::new(client, NS);
    let attached = api.create_or_attach(&objects, "m-1", "fp-1").await.unwrap();
    assert!(
        matches!(attached, Attached::Created(job) if job.metadata.uid.as_deref() == Some("job-uid"))
    );
    drop(api);
    assert!(scenario.await.unwrap(), "a request after the Secret");
}

#[tokio::test]
async fn a_secret_that_exists_already_is_kept_never_patched_or_replaced() {
    let (client, mut handle) = mock();
    let objects = objects("m-5", "fp");
    let scenario = tokio::spawn(async move {
        job_created(&mut handle).await;
        // The first create went through but its answer was lost; the retry finds it.
        let seen = next(&mut handle).await;
        assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, SECRETS));
        reply(seen, 503, status(503, "ServiceUnavailable"));
        let seen = next(&mut handle).await;
        assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, SECRETS));
        reply(seen, 409, status(409, "AlreadyExists"));
        handle.next_request().await.is_none()
    });
    let api = JobApi::new(client, NS);
    let attached = api.create_or_attach(&objects, "m-5", "fp").await.unwrap();
    assert!(matches!(attached, Attached::Created(_)));
    drop(api);
    assert!(scenario.await.unwrap(), "a request after the 409");
}

#[tokio::test]
async fn a_job_whose_secret_cannot_be_created_is_deleted() {
    let (client, mut handle) = mock();
    let objects = objects("m-6", "fp");
    let scenario = tokio::spawn(async move {
        job_created(&mut handle).await;
        let seen = next(&mut handle).await;
        assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, SECRETS));
        reply(seen, 403, status(403, "Forbidden"));
        let seen = next(&mut handle).await;
        assert_eq!(
            (&seen.method, seen.path.as_str()),
            (&Method::DELETE, &*format!("{JOBS}/match-m-6"))
        );
        assert_eq!(seen.body["propagationPolicy"], "Foreground");
        reply(seen, 404, status(404, "NotFound"));
    });
    let err = JobApi::new(client, NS)
        .create_or_attach(&objects, "m-6", "fp")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("match Secret") && err.contains("Forbidden"),
        "{err}"
    );
    scenario.await.unwrap();
}

#[tokio::test]
async fn an_existing_job_is_attached_to_when_the_request_is_the_same_and_refused_otherwise() {
    for (existing_fingerprint, attaches) in [("fp-1", true), ("fp-other", false)] {
        let (client, mut handle) = mock();
        let objects = objects("m-1", "fp-1");
        let existing = with_uid(serde_json::to_value(&objects.job).unwrap(), "old-uid");
        let scenario = tokio::spawn(async move {
            let seen = next(&mut handle).await;
            assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, JOBS));
            reply(seen, 409, status(409, "AlreadyExists"));
            let seen = next(&mut handle).await;
            assert_eq!(
                (&seen.method, seen.path.as_str()),
                (&Method::GET, &*format!("{JOBS}/match-m-1"))
            );
            let mut job = existing;
            job["metadata"]["annotations"]["rl-arena.dev/fingerprint"] =
                json!(existing_fingerprint);
            let secret_name =
                job["spec"]["template"]["spec"]["volumes"][2]["secret"]["secretName"].clone();
            reply(seen, 200, job);
            if existing_fingerprint == "fp-1" {
                // The running Job gets its Secret in case its creator stopped before making it; it exists.
                let seen = next(&mut handle).await;
                assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, SECRETS));
                assert_eq!(seen.body["metadata"]["name"], secret_name);
                assert_eq!(
                    seen.body["metadata"]["ownerReferences"][0]["uid"],
                    "old-uid"
                );
                reply(seen, 409, status(409, "AlreadyExists"));
            }
            // Nothing else is written.
            handle.next_request().await.is_none()
        });
        let api = JobApi::new(client, NS);
        let result = api.create_or_attach(&objects, "m-1", "fp-1").await;
        drop(api);
        match (result, attaches) {
            (Ok(Attached::Existing(job)), true) => {
                assert_eq!(job.metadata.uid.as_deref(), Some("old-uid"));
            }
            (Err(executor::Error::Conflict(message)), false) => {
                assert!(message.contains("different request"), "{message}");
            }
            (other, _) => panic!("fingerprint {existing_fingerprint}: unexpected {other:?}"),
        }
        assert!(scenario.await.unwrap(), "a write after attaching");
    }
}

#[tokio::test]
async fn too_many_requests_and_server_errors_are_retried() {
    let (client, mut handle) = mock();
    let objects = objects("m-2", "fp");
    let scenario = tokio::spawn(async move {
        let mut job_posts = 0;
        for code in [429, 503] {
            let seen = next(&mut handle).await;
            assert_eq!((&seen.method, seen.path.as_str()), (&Method::POST, JOBS));
            job_posts += 1;
            reply(seen, code, status(code, "TooManyRequests"));
        }
        let seen = next(&mut handle).await;
        assert_eq!(
            (&seen.method, seen.path.as_str()),
            (&Method::POST, JOBS),
            "retried after 429 and 503"
        );
        job_posts += 1;
        let body = seen.body.clone();
        reply(seen, 201, with_uid(body, "job-uid"));
        let seen = next(&mut handle).await;
        assert_eq!(seen.path, SECRETS);
        reply(seen, 503, status(503, "ServiceUnavailable"));
        let seen = next(&mut handle).await;
        assert_eq!(seen.path, SECRETS, "the Secret's create is retried too");
        let body = seen.body.clone();
        reply(seen, 201, with_uid(body, "s"));
        job_posts
    });
    let attached = JobApi::new(client, NS)
        .create_or_attach(&objects, "m-2", "fp")
        .await
        .unwrap();
    assert!(matches!(attached, Attached::Created(_)));
    assert_eq!(scenario.await.unwrap(), 3);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let (client, mut handle) = mock();
    let scenario = tokio::spawn(async move {
        let seen = next(&mut handle).await;
        assert_eq!(seen.method, Method::GET);
        reply(seen, 403, status(403, "Forbidden"));
        // No second request: the client is dropped with the API and the mock sees the end.
        handle.next_request().await.is_none()
    });
    let api = JobApi::new(client, NS);
    let err = api.get("m-3").await.unwrap_err().to_string();
    assert!(err.contains("Forbidden"), "{err}");
    drop(api);
    assert!(scenario.await.unwrap(), "a 403 was retried");
}

#[tokio::test]
async fn cancel_deletes_the_job_in_the_foreground_and_a_missing_job_is_fine() {
    let (client, mut handle) = mock();
    let scenario = tokio::spawn(async move {
        for answer in [200, 404] {
            let seen = next(&mut handle).await;
            assert_eq!(
                (&seen.method, seen.path.as_str()),
                (&Method::DELETE, &*format!("{JOBS}/m-4"))
            );
            assert_eq!(
                seen.body["propagationPolicy"], "Foreground",
                "{}",
                seen.body
            );
            if answer == 200 {
                reply(
                    seen,
                    200,
                    json!({"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": {"name": "m-4", "finalizers": ["foregroundDeletion"]}}),
                );
            } else {
                reply(seen, 404, status(404, "NotFound"));
            }
        }
    });
    let api = JobApi::new(client, NS);
    api.delete("m-4").await.unwrap();
    api.delete("m-4").await.unwrap();
    scenario.await.unwrap();
}

fn list(kind: &str, rv: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": if kind == "JobList" { "batch/v1" } else { "v1" }, "kind": kind,
           "metadata": {"resourceVersion": rv}, "items": items})
}

fn managed_job(name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "namespace": NS, "resourceVersion": "5", "uid": name,
                        "labels": {"app.kubernetes.io/managed-by": "rl-arena-executor", "match-id": name}}})
}

#[tokio::test]
async fn a_watch_that_is_gone_lists_again() {
    let (client, mut handle) = mock();
    let tracker = Tracker::start(client, NS);
    let mut job_lists = 0;
    let mut pending = Vec::new();
    while job_lists < 2 {
        let seen = next(&mut handle).await;
        assert_eq!(seen.method, Method::GET);
        let watching = seen.query.get("watch").map(String::as_str) == Some("true");
        if seen.path == EVENTS {
            assert_eq!(
                seen.query.get("fieldSelector").map(String::as_str),
                Some("involvedObject.kind=Job,reason=FailedCreate")
            );
            if watching {
                pending.push(seen);
            } else {
                reply(seen, 200, list("EventList", "1", Vec::new()));
            }
            continue;
        }
        assert_eq!(
            seen.query.get("labelSelector").map(String::as_str),
            Some("app.kubernetes.io/managed-by=rl-arena-executor"),
            "{}",
            seen.path
        );
        match (seen.path.as_str(), watching) {
            (JOBS, false) => {
                job_lists += 1;
                let items = if job_lists == 1 {
                    vec![managed_job("m-1")]
                } else {
                    vec![managed_job("m-1"), managed_job("m-2")]
                };
                reply(seen, 200, list("JobList", &job_lists.to_string(), items));
            }
            (JOBS, true) => {
                assert_eq!(
                    seen.query.get("resourceVersion").map(String::as_str),
                    Some("1")
                );
                // What an API server says when the resource version is too old: an ERROR event.
                let event = json!({"type": "ERROR", "object": status(410, "Expired")});
                seen.respond.send_response(
                    Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "application/json")
                        .body(Body::from(format!("{event}\n").into_bytes()))
                        .unwrap(),
                );
            }
            ("/api/v1/namespaces/rl-arena/pods", false) => {
                reply(seen, 200, list("PodList", "1", Vec::new()));
            }
            // The pod watch stays open for the rest of the test.
            ("/api/v1/namespaces/rl-arena/pods", true) => pending.push(seen),
            (path, _) => panic!("unexpected request to {path}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while tracker.job("m-2").is_none() {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the re-listed Job reached the store");
    assert!(tracker.job("m-1").is_some());
}

#[tokio::test]
async fn every_task_waiting_for_the_first_lists_is_woken() {
    let (client, mut handle) = mock();
    let tracker = Tracker::start(client, NS);
    // Several tasks wait before anything is listed (the server's start-up and the reconciler do).
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let tracker = std::sync::Arc::clone(&tracker);
            tokio::spawn(async move { tracker.ready().await })
        })
        .collect();
    let mut watches = Vec::new();
    let mut lists = 0;
    while lists < 2 {
        let seen = next(&mut handle).await;
        let watching = seen.query.get("watch").map(String::as_str) == Some("true");
        match (seen.path.as_str(), watching) {
            (JOBS, false) => {
                lists += 1;
                reply(seen, 200, list("JobList", "1", Vec::new()));
            }
            ("/api/v1/namespaces/rl-arena/pods", false) => {
                lists += 1;
                reply(seen, 200, list("PodList", "1", Vec::new()));
            }
            (EVENTS, false) => reply(seen, 200, list("EventList", "1", Vec::new())),
            // Watches stay open: nothing else happens after the lists.
            (_, true) => watches.push(seen),
            (path, _) => panic!("unexpected request to {path}"),
        }
    }
    // Without a wake-up for each waiter, some of them would wait forever; this bound only stops the test.
    let all = futures_util::future::join_all(waiters);
    let done = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("every waiter saw the tracker ready");
    assert!(done.iter().all(Result::is_ok));
}
