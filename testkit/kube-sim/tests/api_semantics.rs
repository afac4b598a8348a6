//! API server semantics through kube-rs: errors as Status bodies (404, 409, 410, 422), resource
//! versions, generateName, selectors, merge patch, server-side apply, the status subresource,
//! watches that resume and bookmarks, discovery, immutable Secrets and ConfigMaps.

mod support;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::ErrorResponse;
use serde_json::json;
use support::*;

/// A label of a Job.
fn label<'a>(job: &'a Job, key: &str) -> Option<&'a str> {
    job.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

fn configmap(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .expect("configmap json")
}

fn api_error(result: Result<impl std::fmt::Debug, kube::Error>) -> ErrorResponse {
    match result {
        Err(kube::Error::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn errors_are_status_bodies_with_reason_and_code() {
    let (_sim, client) = start(1.0).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let pp = PostParams::default();

    let e = api_error(cms.get("missing").await);
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "configmaps \"missing\" not found");

    cms.create(&pp, &configmap("one", json!({})))
        .await
        .expect("create");
    let e = api_error(cms.create(&pp, &configmap("one", json!({}))).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));

    // A replace carrying a stale resourceVersion conflicts.
    let first = cms.get("one").await.expect("get");
    let mut changed = first.clone();
    changed.data = Some([("k".to_owned(), "v2".to_owned())].into());
    cms.replace("one", &pp, &changed)
        .await
        .expect("replace with the current version");
    let e = api_error(cms.replace("one", &pp, &first).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));

    for bad in ["Bad_Name", "-x", ""] {
        let e = api_error(cms.create(&pp, &configmap(bad, json!({}))).await);
        assert_eq!(
            (e.code, e.reason.as_str()),
            (422, "Invalid"),
            "name {bad:?}"
        );
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut job = shell_job("no-restart-policy", "true");
    pod_spec_mut(&mut job).restart_policy = Some("Always".into());
    let e = api_error(jobs.create(&pp, &job).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(e.message.contains("restartPolicy"), "{}", e.message);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let no_containers: Pod =
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}))
            .expect("pod json");
    let e = api_error(pods.create(&pp, &no_containers).await);
    assert_eq!(e.code, 422);
}

#[tokio::test]
async fn metadata_is_filled_and_versions_increase() {
    let (sim, client) = start(1.0).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let mut cm = configmap("", json!({}));
    cm.metadata.name = None;
    cm.metadata.generate_name = Some("gen-".into());
    let a = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create a");
    let b = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create b");
    let (na, nb) = (
        a.metadata.name.clone().expect("name"),
        b.metadata.name.clone().expect("name"),
    );
    assert!(
        na.starts_with("gen-") && na.len() == 9 && na != nb,
        "{na} {nb}"
    );
    assert!(a.metadata.uid.is_some() && a.metadata.creation_timestamp.is_some());
    let rv = |c: &ConfigMap| {
        c.metadata
            .resource_version
            .clone()
            .expect("rv")
            .parse::<u64>()
            .expect("numeric rv")
    };
    assert!(rv(&b) > rv(&a));
    assert_eq!(rv(&b), sim.resource_version());
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let (_sim, client) = start(1.0).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    for (name, labels) in [
        ("a", json!({"app": "arena", "tier": "x"})),
        ("b", json!({"app": "arena", "tier": "y", "canary": "1"})),
        ("c", json!({"app": "other"})),
    ] {
        cms.create(&PostParams::default(), &configmap(name, labels))
            .await
            .expect("create");
    }
    let names = |sel: &'static str, field: bool| {
        let cms = cms.clone();
        async move {
            let lp = if field {
                ListParams::default().fields(sel)
            } else {
                ListParams::default().labels(sel)
            };
            cms.list(&lp)
                .await
                .expect("list")
                .items
                .into_iter()
                .filter_map(|c| c.metadata.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("app=arena", false).await, ["a", "b"]);
    assert_eq!(names("app=arena,tier!=x", false).await, ["b"]);
    assert_eq!(names("tier in (x,y),!canary", false).await, ["a"]);
    assert_eq!(names("app notin (arena)", false).await, ["c"]);
    assert_eq!(names("canary", false).await, ["b"]);
    assert_eq!(names("metadata.name=c", true).await, ["c"]);
    // Other namespaces are not listed; all namespaces are.
    let other: Api<ConfigMap> = Api::namespaced(client.clone(), "elsewhere");
    other
        .create(
            &PostParams::default(),
            &configmap("d", json!({"app": "arena"})),
        )
        .await
        .expect("create d");
    assert_eq!(names("app=arena", false).await, ["a", "b"]);
    let all: Api<ConfigMap> = Api::all(client.clone());
    assert_eq!(
        all.list(&ListParams::default().labels("app=arena"))
            .await
            .expect("list all")
            .items
            .len(),
        3
    );
    // Paging with limit and continue.
    let page = cms
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("continue token");
    let rest = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(
        rest.items
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect::<Vec<_>>(),
        ["c"]
    );
}

#[tokio::test]
async fn merge_patch_server_side_apply_and_status_subresource() {
    let (_sim, client) = start(1.0).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    // Apply creates, then merges; the field manager is recorded.
    let ssa = PatchParams::apply("arena-executor").force();
    let created = cms
        .patch("applied", &ssa, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}})))
        .await
        .expect("apply creates");
    assert_eq!(
        created
            .data
            .clone()
            .unwrap_or_default()
            .get("a")
            .map(String::as_str),
        Some("1")
    );
    let managers: Vec<String> = created
        .metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["arena-executor"]);
    let merged = cms
        .patch(
            "applied",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "2", "a": null}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.data, Some([("b".to_owned(), "2".to_owned())].into()));

    // Spec writes ignore status; status writes ignore spec.
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut job = shell_job("status-split", "true");
    job.spec.as_mut().expect("spec").suspend = Some(true);
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create job");
    let patched = jobs
        .patch(
            "status-split",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"failed": 5}, "metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("patch main");
    assert_eq!(patched.status.as_ref().and_then(|s| s.failed), None);
    assert_eq!(label(&patched, "x"), Some("y"));
    let patched = jobs
        .patch_status(
            "status-split",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"failed": 5}, "metadata": {"labels": {"x": "z"}}})),
        )
        .await
        .expect("patch status");
    assert_eq!(patched.status.as_ref().and_then(|s| s.failed), Some(5));
    assert_eq!(label(&patched, "x"), Some("y"));
    // Suspended Jobs get no pods.
    assert!(job_pods(&client, "status-split").await.is_empty());
}

#[tokio::test]
async fn watches_resume_from_a_version_and_expire_after_compaction() {
    let (sim, client) = start(1.0).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let a = cms
        .create(&PostParams::default(), &configmap("a", json!({"w": "1"})))
        .await
        .expect("a");
    let rv_a = a.metadata.resource_version.clone().expect("rv");
    cms.create(&PostParams::default(), &configmap("b", json!({"w": "1"})))
        .await
        .expect("b");
    cms.delete("a", &Default::default())
        .await
        .expect("delete a");

    // Resuming after `a` was created replays b's ADDED and a's DELETED, in order.
    let wp = WatchParams::default().labels("w=1").timeout(5);
    let events: Vec<_> = cms
        .watch(&wp, &rv_a)
        .await
        .expect("watch")
        .take(2)
        .try_collect()
        .await
        .expect("events");
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(c) => {
                format!("ADDED {}", c.metadata.name.clone().unwrap_or_default())
            }
            WatchEvent::Deleted(c) => {
                format!("DELETED {}", c.metadata.name.clone().unwrap_or_default())
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["ADDED b", "DELETED a"]);

    // Bookmarks carry the current version.
    let wp = WatchParams::default().timeout(10);
    let current = sim.resource_version().to_string();
    let mut stream = cms.watch(&wp, &current).await.expect("watch").boxed();
    let first = stream
        .try_next()
        .await
        .expect("event")
        .expect("a bookmark arrives");
    match first {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, current),
        other => panic!("expected a bookmark, got {other:?}"),
    }

    // After compaction the old version is gone: the watch answers an ERROR event with 410, and
    // an exact list at that version answers 410 too.
    sim.compact();
    let mut stream = cms
        .watch(&WatchParams::default(), &rv_a)
        .await
        .expect("watch")
        .boxed();
    match stream.try_next().await.expect("event") {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
    let e = api_error(
        cms.list(
            &ListParams::default()
                .at(&rv_a)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await,
    );
    assert_eq!(e.code, 410);
}

#[tokio::test]
async fn discovery_answers_version_and_resources() {
    let (_sim, client) = start(1.0).await;
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(version.major, "1");
    let groups = client.list_api_groups().await.expect("groups");
    assert!(groups.groups.iter().any(|g| g.name == "batch"));
    let core = client
        .list_core_api_resources("v1")
        .await
        .expect("core resources");
    let names: Vec<&str> = core.resources.iter().map(|r| r.name.as_str()).collect();
    for want in [
        "pods",
        "pods/status",
        "pods/log",
        "secrets",
        "configmaps",
        "events",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
}

#[tokio::test]
async fn immutable_secrets_and_config_maps_refuse_data_changes_but_take_metadata() {
    let (_sim, client) = start(1.0).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "frozen"}, "immutable": true, "stringData": {"k": "v"},
    }))
    .expect("secret json");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create");
    let merge = |body: serde_json::Value| {
        let secrets = secrets.clone();
        async move {
            secrets
                .patch("frozen", &PatchParams::default(), &Patch::Merge(&body))
                .await
        }
    };
    let e = api_error(merge(json!({"data": {"k": "dw=="}})).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        "Secret \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    let e = api_error(merge(json!({"immutable": false})).await);
    assert!(e.message.contains("immutable: Forbidden"), "{}", e.message);
    // Metadata stays writable: labels and owner references.
    let patched = merge(
        json!({"metadata": {"labels": {"a": "b"}, "ownerReferences": [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u"}]}}),
    )
    .await
    .expect("metadata patch");
    assert_eq!(patched.metadata.owner_references.map(|o| o.len()), Some(1));
    // A mutable Secret's data changes as before.
    let open: Secret =
        serde_json::from_value(json!({"metadata": {"name": "open"}, "stringData": {"k": "v"}}))
            .expect("secret json");
    secrets
        .create(&PostParams::default(), &open)
        .await
        .expect("create");
    secrets
        .patch(
            "open",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "dw=="}})),
        )
        .await
        .expect("a mutable Secret's data changes");

    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let frozen: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "frozen"}, "immutable": true, "data": {"k": "v"}}),
    )
    .expect("configmap json");
    maps.create(&PostParams::default(), &frozen)
        .await
        .expect("create");
    let e = api_error(
        maps.patch(
            "frozen",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "w"}})),
        )
        .await,
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .starts_with("ConfigMap \"frozen\" is invalid: data: Forbidden"),
        "{}",
        e.message
    );
}
