//! Unit tests of the Kubernetes backend's pure parts: Job names, the Job and Secret builder, the verdicts of
//! the diagnosis and the termination-message fallback. Long because the diagnosis is a table of every cause.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Event, Pod,
    PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::{TimeZone, Utc};
use proto::outcome::MatchStatus;

use super::diagnose::{Context, Verdict, diagnose};
use super::job::{self, JobSettings};
use super::meta;
use super::names::{is_dns_label, job_name};
use super::termination::from_termination_message;
use crate::request::{AgentSource, MatchPlan};

#[test]
fn job_names_are_match_dash_id_when_that_is_a_dns_label_else_cleaned_and_hashed() {
    let uuid = "0b6f4d1e-6c1a-4f57-9d33-2f8e61a0c0de";
    let longest = "a".repeat(57);
    let too_long = "a".repeat(58);
    let long_upper = format!("{}B", "a".repeat(62));
    let cases: &[(&str, Option<&str>)] = &[
        ("m1", Some("match-m1")),
        (uuid, Some("match-0b6f4d1e-6c1a-4f57-9d33-2f8e61a0c0de")),
        ("2026-11-26", Some("match-2026-11-26")),
        (&longest, Some(&*format!("match-{longest}"))),
        (&too_long, None),
        ("M1", None),
        ("match_1", None),
        ("a.b.c", None),
        ("1.2", None),
        ("x-", None),
        (&long_upper, None),
    ];
    for (id, kept) in cases {
        let name = job_name(id);
        assert!(
            is_dns_label(&name),
            "{id:?} -> {name:?} is not a DNS-1123 label"
        );
        assert!(name.starts_with("match-"), "{id:?} -> {name:?}");
        assert_eq!(name, job_name(id), "{id:?}: not deterministic");
        match kept {
            Some(kept) => assert_eq!(&name, kept, "{id:?}"),
            None => {
                assert_eq!(
                    name.len() - name.rfind('-').unwrap() - 1,
                    8,
                    "{id:?} -> {name:?}: hash suffix"
                );
            }
        }
    }
    assert_eq!(
        job_name("match_1"),
        format!("match-match-1-{}", &hash("match_1")[..8])
    );
    assert_eq!(
        job_name("a.b.c"),
        format!("match-a-b-c-{}", &hash("a.b.c")[..8])
    );
    // Ids that clean to the same text still get different names.
    assert_ne!(job_name("M1"), job_name("m_1"));
    assert_ne!(job_name("a.b"), job_name("a_b"));
    assert_eq!(job_name(&long_upper).len(), 63);
    assert_eq!(job_name(&too_long).len(), 63);
}

fn hash(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn args() -> crate::config::KubernetesArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        k: crate::config::KubernetesArgs,
    }
    Wrap::parse_from([
        "x",
        "--k8s-tolerations",
        r#"[{"key":"dedicated","operator":"Equal","value":"matches","effect":"NoSchedule"}]"#,
        "--k8s-node-selector",
        "pool=matches",
        "--k8s-runtime-class",
        "gvisor",
        "--k8s-image-pull-secrets",
        "regcred",
    ])
    .k
}

/// The pod that `settings` builds for [`plan`].
fn pod_of(settings: &JobSettings) -> k8s_openapi::api::core::v1::PodSpec {
    settings
        .build(&plan(), "fp", "tok")
        .unwrap()
        .job
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
}

fn plan() -> MatchPlan {
    MatchPlan {
        match_id: "m-1".into(),
        environment: "pong".into(),
        config: Default::default(),
        seed: 7,
        agents: vec![
            AgentSource {
                agent_id: "alice".into(),
                source: "https://agents.example/a.zip".into(),
            },
            AgentSource {
                agent_id: "bob".into(),
                source: "oci://registry.example/b:1".into(),
            },
        ],
        timeout: Duration::from_secs(100),
        record_replay: true,
        limits: Default::default(),
    }
}

#[test]
fn the_job_is_labelled_hardened_and_carries_the_request() {
    let settings = JobSettings::new(&args(), "http://executor:50051").unwrap();
    let objects = settings.build(&plan(), "fp", "tok").unwrap();
    let job = &objects.job;
    let labels = job.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[meta::MANAGED_BY_LABEL], "rl-arena-executor");
    assert_eq!(labels["match-id"], "m-1");
    assert_eq!(labels["component"], "match-executor");
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[meta::FINGERPRINT_ANNOTATION],
        "fp"
    );
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(
        spec.active_deadline_seconds,
        Some(100),
        "the caller's whole budget, start-up included"
    );
    assert_eq!(spec.ttl_seconds_after_finished, Some(600));
    let template = &spec.template;
    assert_eq!(
        template.metadata.as_ref().unwrap().labels.as_ref().unwrap(),
        labels,
        "pods carry the labels the watch selects on"
    );
    let pod = template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.service_account_name.as_deref(), Some("rl-arena-match"));
    assert_eq!(pod.runtime_class_name.as_deref(), Some("gvisor"));
    assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "matches");
    assert_eq!(
        pod.tolerations.as_ref().unwrap()[0].key.as_deref(),
        Some("dedicated")
    );
    assert_eq!(pod.image_pull_secrets.as_ref().unwrap()[0].name, "regcred");

    // Pod Security "restricted": every container and the pod; no fsGroup, which would give every container of
    // the pod (the agents' too) the orchestrator's group.
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    assert_eq!(psc.fs_group, None);
    let inits = pod.init_containers.as_ref().unwrap();
    let names: Vec<_> = inits
        .iter()
        .chain(&pod.containers)
        .map(|c| c.name.as_str())
        .collect();
    // Alice is given as code (installed by agent-1-init), bob as an image (no installer).
    assert_eq!(
        names,
        [
            "agent-shim",
            "agent-1-init",
            "match-orchestrator",
            "agent-1",
            "agent-2"
        ]
    );
    // Each seat's containers run as a user of its own, the orchestrator and the shim installer as the match's.
    let uids = [61000, 61001, 61000, 61001, 61002];
    for (c, uid) in inits.iter().chain(&pod.containers).zip(uids) {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
        assert_eq!(sc.run_as_non_root, Some(true), "{}", c.name);
        assert_eq!(sc.run_as_user, Some(uid), "{}", c.name);
        assert_eq!(sc.run_as_group, Some(uid), "{}", c.name);
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..])
        );
        assert!(sc.capabilities.as_ref().unwrap().add.is_none());
        assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    }
    for c in [&inits[1], &pod.containers[0]] {
        assert_eq!(
            c.termination_message_policy.as_deref(),
            Some("File"),
            "{}: results are never read from logs",
            c.name
        );
    }
    assert_eq!(
        inits[1].args.as_ref().unwrap(),
        &[
            "--source",
            "https://agents.example/a.zip",
            "--dest",
            "/agents/agent-1",
            "--result-file",
            "/dev/termination-log",
            "--allow-hosts=",
            "--local-roots=",
        ]
    );
    // The shim comes out of the orchestrator image into a volume every agent container runs it from.
    assert_eq!(
        inits[0].image.as_deref(),
        Some("rl-arena/orchestrator:0.1.0")
    );
    assert_eq!(
        inits[0].args.as_ref().unwrap(),
        &["install", "--dest", "/rl-arena/bin/agent-shim"]
    );
    let (alice, bob) = (&pod.containers[1], &pod.containers[2]);
    assert_eq!(alice.image.as_deref(), Some("rl-arena/agent-runtime:0.1.0"));
    assert_eq!(bob.image.as_deref(), Some("registry.example/b:1"));
    for (agent, app, seat) in [
        (alice, "/agents/agent-1", "seat-1"),
        (bob, "/app", "seat-2"),
    ] {
        assert_eq!(
            agent.command.as_deref(),
            Some(&["/rl-arena/bin/agent-shim".to_string()][..])
        );
        let args = agent.args.as_ref().unwrap();
        assert!(args.windows(2).any(|w| w == ["--app", app]), "{args:?}");
        assert!(
            args.windows(2)
                .any(|w| w == ["--socket", "/run/rl-arena/seat/seat.sock"]),
            "{args:?}"
        );
        let mounts: Vec<&str> = agent
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| m.name.as_str())
            .collect();
        assert!(mounts.contains(&seat), "{mounts:?}");
        for private in ["match-spec", "tmp"] {
            assert!(!mounts.contains(&private), "{}: {mounts:?}", agent.name);
        }
        // Its own volumes only: its seat's socket, its scratch, its code.
        let own = format!("{}-", agent.name);
        assert!(
            mounts
                .iter()
                .all(|m| *m == "agent-shim" || *m == seat || m.starts_with(&own)),
            "{}: {mounts:?}",
            agent.name
        );
        // An agent's memory is its address-space limit plus the shim's headroom, requested in full.
        let r = agent.resources.as_ref().unwrap();
        assert_eq!(r.limits.as_ref().unwrap()["memory"].0, "2112Mi");
        assert_eq!(r.requests.as_ref().unwrap()["memory"].0, "2112Mi");
        assert_eq!(r.limits.as_ref().unwrap()["cpu"].0, "1");
    }
    let orchestrator_mounts: Vec<&str> = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        orchestrator_mounts,
        ["match-spec", "tmp", "seat-1", "seat-2"],
        "the orchestrator sees no agent's code"
    );
    let args = pod.containers[0].args.as_ref().unwrap();
    assert!(
        args.windows(2)
            .any(|w| w == ["--report-to", "http://executor:50051"]),
        "{args:?}"
    );
    assert!(
        args.windows(2)
            .any(|w| w == ["--spec", "/etc/rl-arena/spec.json"]),
        "{args:?}"
    );
    for seat in 1..=2 {
        let socket = format!("/run/rl-arena/seats/agent-{seat}/seat.sock");
        assert!(
            args.windows(2)
                .any(|w| w == ["--seat-socket", socket.as_str()]),
            "{args:?}"
        );
    }
    // Five containers share the pod's 12 KiB of termination messages.
    assert!(
        args.windows(2).any(|w| w == ["--result-max-bytes", "2457"]),
        "{args:?}"
    );
    assert!(
        args.windows(2).any(|w| w
            == [
                "--require-isolation",
                "no_new_privs,no_capabilities,rlimits,seccomp,landlock_fs"
            ]),
        "{args:?}"
    );
    assert_eq!(psc.run_as_user, Some(61000));
    let resources = pod.containers[0].resources.as_ref().unwrap();
    assert_eq!(resources.limits.as_ref().unwrap()["memory"].0, "512Mi");
    assert_eq!(resources.requests.as_ref().unwrap()["memory"].0, "256Mi");
    // A failed agent container fails the Job; no rule ignores (and so retries) a failure.
    let rules = &spec.pod_failure_policy.as_ref().unwrap().rules;
    assert!(rules.iter().all(|r| r.action == "FailJob"), "{rules:?}");
    for name in ["agent-1", "agent-2", "agent-1-init", "match-orchestrator"] {
        assert!(
            rules.iter().any(|r| r
                .on_exit_codes
                .as_ref()
                .is_some_and(|e| e.container_name.as_deref() == Some(name))),
            "{name}: {rules:?}"
        );
    }

    // The Secret: the spec with in-pod agent dirs, and the token.
    let secret = &objects.secret;
    // A name of its own, which the pod mounts: never a leftover of an earlier Job of the same name.
    let secret_name = secret.metadata.name.clone().unwrap();
    assert!(
        secret_name.starts_with("match-m-1-") && secret_name.len() == "match-m-1-".len() + 8,
        "{secret_name}"
    );
    let volume = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "match-spec")
        .unwrap();
    assert_eq!(
        volume.secret.as_ref().unwrap().secret_name.as_deref(),
        Some(secret_name.as_str())
    );
    let again = settings.build(&plan(), "fp", "tok").unwrap();
    assert_ne!(again.secret.metadata.name, secret.metadata.name);
    assert_eq!(secret.metadata.labels.as_ref(), Some(labels));
    assert_eq!(
        secret.metadata.annotations.as_ref().unwrap()[meta::FINGERPRINT_ANNOTATION],
        "fp"
    );
    assert!(secret.metadata.owner_references.is_none(), "set on create");
    assert_eq!(secret.immutable, Some(true));
    let data = secret.data.as_ref().unwrap();
    assert_eq!(data["token"].0, b"tok");
    let spec: proto::spec::MatchSpec = serde_json::from_slice(&data["spec.json"].0).unwrap();
    assert_eq!(spec.seed, 7);
    assert_eq!(spec.agents[1].dir, std::path::Path::new("agent-2"));
    assert_eq!(
        volume.secret.as_ref().unwrap().default_mode,
        Some(0o444),
        "without an fsGroup; only the orchestrator mounts it"
    );
}

#[test]
fn an_agents_memory_is_its_limit_plus_headroom_and_a_match_that_cannot_fit_is_refused() {
    let settings = JobSettings::new(&args(), "http://executor:50051").unwrap();
    let limit = |agent_mib: u64| {
        let mut plan = plan();
        plan.limits.memory_mb = agent_mib;
        settings.build(&plan, "fp", "tok").map(|o| {
            let pod = o.job.spec.unwrap().template.spec.unwrap();
            let memory = |c: usize| {
                let r = pod.containers[c].resources.clone().unwrap();
                (
                    r.limits.unwrap()["memory"].0.clone(),
                    r.requests.unwrap()["memory"].0.clone(),
                )
            };
            assert_eq!(memory(1), memory(2), "every seat alike");
            assert_eq!(
                memory(0),
                ("512Mi".into(), "256Mi".into()),
                "the orchestrator's own"
            );
            memory(1)
        })
    };
    assert_eq!(limit(256).unwrap(), ("320Mi".into(), "320Mi".into()));
    assert_eq!(limit(8128).unwrap(), ("8192Mi".into(), "8192Mi".into()));
    assert_eq!(
        limit(0).unwrap(),
        ("8192Mi".into(), "8192Mi".into()),
        "no address-space limit: the largest container"
    );
    let refused = limit(8129).unwrap_err();
    assert!(
        matches!(&refused, crate::error::Error::InvalidArgument(m)
            if m.contains("limits.memory_mb") && m.contains("at most 8128 MiB per agent")),
        "{refused}"
    );
    let mut a = args();
    a.k8s_agent_memory_limit = "lots".into();
    let e = JobSettings::new(&a, "http://x").unwrap_err().to_string();
    assert!(e.contains("k8s-agent-memory-limit"), "{e}");
    a.k8s_agent_memory_limit = "64Mi".into();
    let e = JobSettings::new(&a, "http://x").unwrap_err().to_string();
    assert!(e.contains("headroom"), "{e}");
    let mut a = args();
    a.k8s_orchestrator_memory_request = "1Gi".into();
    let e = JobSettings::new(&a, "http://x").unwrap_err().to_string();
    assert!(
        e.contains("must not exceed k8s-orchestrator-memory-limit"),
        "{e}"
    );
}

#[test]
fn runtime_images_and_seat_users_are_configurable_and_checked() {
    let mut a = args();
    a.k8s_agent_runtime_images = vec!["pong=registry.example/pong-runtime:2".into()];
    a.k8s_agent_uid_base = 70000;
    let settings = JobSettings::new(&a, "http://x").unwrap();
    let pod = pod_of(&settings);
    assert_eq!(
        pod.containers[1].image.as_deref(),
        Some("registry.example/pong-runtime:2"),
        "the environment's runtime"
    );
    let uid = |c: usize| {
        pod.containers[c]
            .security_context
            .as_ref()
            .unwrap()
            .run_as_user
    };
    assert_eq!(
        (uid(0), uid(1), uid(2)),
        (Some(61000), Some(70000), Some(70001))
    );
    for (pairs, needle) in [
        (vec!["pong"], "ENVIRONMENT=IMAGE"),
        (vec!["pong="], "ENVIRONMENT=IMAGE"),
        (vec!["chess=registry.example/chess:1"], "chess"),
    ] {
        let mut a = args();
        a.k8s_agent_runtime_images = pairs.iter().map(|p| p.to_string()).collect();
        let e = JobSettings::new(&a, "http://x").unwrap_err().to_string();
        assert!(
            e.contains("k8s-agent-runtime-images") && e.contains(needle),
            "{e}"
        );
    }
    let mut a = args();
    a.k8s_agent_uid_base = 60999;
    let e = JobSettings::new(&a, "http://x")
        .unwrap()
        .build(&plan(), "fp", "tok")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("k8s-match-uid 61000 is among the seats' uids"),
        "{e}"
    );
}

#[test]
fn memory_quantities_read_as_the_api_writes_them() {
    use super::sizing::quantity_bytes;
    let cases: &[(&str, Option<u64>)] = &[
        ("512Mi", Some(512 << 20)),
        ("4Gi", Some(4 << 30)),
        ("1G", Some(1_000_000_000)),
        ("1.5Gi", Some(3 << 29)),
        ("2048", Some(2048)),
        ("128k", Some(128_000)),
        ("", None),
        ("Gi", None),
        ("4gb", None),
        ("-1Gi", None),
        ("100m", None),
    ];
    for (q, want) in cases {
        assert_eq!(quantity_bytes(q), *want, "{q:?}");
    }
}

#[test]
fn the_result_gets_the_orchestrators_share_of_the_pods_termination_messages() {
    use super::sizing::result_max_bytes;
    // The kubelet's 12 KiB per pod, split across every container, at most 4096 each.
    for (containers, room) in [(1, 4096), (3, 4096), (4, 3072), (5, 2457), (7, 1755)] {
        assert_eq!(
            result_max_bytes(containers),
            room,
            "{containers} containers"
        );
    }
    let mut a = args();
    a.k8s_sidecar_containers = 1;
    let settings = JobSettings::new(&a, "http://x").unwrap();
    assert_eq!(settings.result_max_bytes(2), 4096);
    // Two init containers, the orchestrator, two agents and the sidecar.
    let objects = settings.build(&plan(), "fp", "tok").unwrap();
    let pod = objects.job.spec.unwrap().template.spec.unwrap();
    let args = pod.containers[0].args.clone().unwrap();
    assert!(
        args.windows(2).any(|w| w == ["--result-max-bytes", "2048"]),
        "{args:?}"
    );
}

#[test]
fn the_match_uid_and_required_layers_are_configurable() {
    let mut a = args();
    a.k8s_match_uid = 40000;
    a.k8s_require_isolation = vec![String::new()];
    let settings = JobSettings::new(&a, "http://x").unwrap();
    let pod = pod_of(&settings);
    assert_eq!(pod.security_context.unwrap().run_as_user, Some(40000));
    let args = pod.containers[0].args.clone().unwrap();
    assert!(
        !args.iter().any(|a| a == "--require-isolation"),
        "none required: {args:?}"
    );
    let mut a = args_with_layers(&["seccomp", "Landlock FS"]);
    a.k8s_match_uid = 40000;
    let e = JobSettings::new(&a, "http://x").unwrap_err().to_string();
    assert!(e.contains("k8s-require-isolation"), "{e}");
}

fn args_with_layers(layers: &[&str]) -> crate::config::KubernetesArgs {
    let mut a = args();
    a.k8s_require_isolation = layers.iter().map(|l| l.to_string()).collect();
    a
}

#[test]
fn bad_tolerations_and_node_selectors_are_configuration_errors() {
    let mut a = args();
    a.k8s_tolerations = Some("{not json".into());
    let e = JobSettings::new(&a, "http://x").unwrap_err().to_string();
    assert!(e.contains("k8s-tolerations"), "{e}");
    let mut a = args();
    a.k8s_node_selector = vec!["pool".into()];
    let e = JobSettings::new(&a, "http://x").unwrap_err().to_string();
    assert!(e.contains("key=value"), "{e}");
}

fn at(sec: i64) -> Time {
    Time(Utc.timestamp_opt(1_800_000_000 + sec, 0).unwrap())
}

fn job_with(conditions: &[(&str, &str)]) -> Job {
    Job {
        status: Some(JobStatus {
            conditions: Some(
                conditions
                    .iter()
                    .map(|(t, r)| JobCondition {
                        type_: (*t).into(),
                        status: "True".into(),
                        reason: Some((*r).into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        spec: Some(k8s_openapi::api::batch::v1::JobSpec {
            active_deadline_seconds: Some(230),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn terminated(name: &str, code: i32, reason: &str, message: &str) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: Some(reason.into()),
                message: Some(message.into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn waiting(name: &str, reason: &str) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        image: "rl-arena/agent-init:0.1.0".into(),
        state: Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message: Some("back-off pulling image".into()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod(status: PodStatus) -> Pod {
    Pod {
        status: Some(status),
        ..Default::default()
    }
}

fn verdict(job: &Job, pods: &[Pod], now: i64) -> Verdict {
    verdict_with_events(job, pods, &[], now)
}

fn verdict_with_events(job: &Job, pods: &[Pod], events: &[Event], now: i64) -> Verdict {
    let ids = ["alice".to_string(), "bob".to_string()];
    let pods: Vec<&Pod> = pods.iter().collect();
    let events: Vec<&Event> = events.iter().collect();
    diagnose(
        job,
        &pods,
        &events,
        &Context {
            agent_ids: &ids,
            startup_budget: Duration::from_secs(60),
            transient_grace: Duration::from_secs(30),
            report_grace: Duration::from_secs(10),
            now: at(now).0,
        },
    )
}

fn failed_create(message: &str) -> Event {
    Event {
        reason: Some("FailedCreate".into()),
        message: Some(message.into()),
        type_: Some("Warning".into()),
        ..Default::default()
    }
}

fn failed(v: &Verdict) -> (MatchStatus, String, usize) {
    match v {
        Verdict::Failed {
            status,
            message,
            faults,
        } => (*status, message.clone(), faults.len()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn diagnosis_table() {
    let running = job_with(&[]);
    // Nothing yet: pending, no recheck.
    assert_eq!(
        verdict(&running, &[], 0),
        Verdict::Pending { recheck_in: None }
    );

    // agent-init exit 10: the agent's fault, with its message.
    let p = pod(PodStatus {
        init_container_statuses: Some(vec![
            terminated("agent-1-init", 0, "Completed", ""),
            terminated(
                "agent-2-init",
                10,
                "Error",
                "agent-init: archive holds no agent.py",
            ),
        ]),
        ..Default::default()
    });
    let v = verdict(&running, &[p], 0);
    let (status, message, faults) = failed(&v);
    assert_eq!((status, faults), (MatchStatus::Error, 1));
    assert_eq!(message, "agent bob: archive holds no agent.py");
    if let Verdict::Failed { faults, .. } = &v {
        assert_eq!(faults[0].0, 1, "seat of bob");
    }

    // agent-init exit 11: infrastructure, nobody charged.
    let p = pod(PodStatus {
        init_container_statuses: Some(vec![terminated(
            "agent-1-init",
            11,
            "Error",
            "connection refused",
        )]),
        ..Default::default()
    });
    let (_, message, faults) = failed(&verdict(&running, &[p], 0));
    assert_eq!(faults, 0);
    assert!(
        message.contains("agent alice")
            && message.contains("infrastructure")
            && message.contains("connection refused"),
        "{message}"
    );

    // A pull the kubelet has backed off from fails at once.
    for reason in ["ImagePullBackOff", "InvalidImageName", "RunContainerError"] {
        let p = pod(PodStatus {
            init_container_statuses: Some(vec![waiting("agent-1-init", reason)]),
            start_time: Some(at(0)),
            ..Default::default()
        });
        let (status, message, _) = failed(&verdict(&running, &[p], 0));
        assert_eq!(status, MatchStatus::Error);
        assert!(
            message.contains(reason) && message.contains("agent-1-init"),
            "{message}"
        );
    }
    // Reasons the kubelet retries get the transient grace (30 s here) from when the container was due: the
    // pod's start, or the end of the init container before it.
    for reason in [
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
    ] {
        let p = || {
            pod(PodStatus {
                start_time: Some(at(0)),
                init_container_statuses: Some(vec![waiting("agent-1-init", reason)]),
                ..Default::default()
            })
        };
        assert_eq!(
            verdict(&running, &[p()], 10),
            Verdict::Pending {
                recheck_in: Some(Duration::from_secs(20))
            },
            "{reason}"
        );
        let (status, message, _) = failed(&verdict(&running, &[p()], 31));
        assert_eq!(status, MatchStatus::Error);
        assert!(
            message.contains(reason) && message.contains("agent-1-init"),
            "{message}"
        );
        let mut finished = terminated("agent-2-init", 0, "Completed", "");
        if let Some(t) = finished.state.as_mut().and_then(|s| s.terminated.as_mut()) {
            t.finished_at = Some(at(100));
        }
        let later = pod(PodStatus {
            start_time: Some(at(0)),
            init_container_statuses: Some(vec![
                terminated("agent-1-init", 0, "Completed", ""),
                finished,
            ]),
            container_statuses: Some(vec![waiting(job::ORCHESTRATOR_CONTAINER, reason)]),
            ..Default::default()
        });
        assert_eq!(
            verdict(&running, &[later], 110),
            Verdict::Pending {
                recheck_in: Some(Duration::from_secs(20))
            },
            "{reason} of the orchestrator counts from the last init container's end"
        );
    }
    // A container that is only starting is not a failure.
    let p = pod(PodStatus {
        container_statuses: Some(vec![waiting(
            job::ORCHESTRATOR_CONTAINER,
            "ContainerCreating",
        )]),
        ..Default::default()
    });
    assert!(matches!(
        verdict(&running, &[p], 0),
        Verdict::Pending { .. }
    ));

    // Unschedulable: pending with a recheck inside the budget, RESOURCE_EXHAUSTED past it.
    let unschedulable = || {
        pod(PodStatus {
            phase: Some("Pending".into()),
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("Unschedulable".into()),
                message: Some("0/3 nodes are available: 3 Insufficient cpu.".into()),
                last_transition_time: Some(at(0)),
                ..Default::default()
            }]),
            ..Default::default()
        })
    };
    assert_eq!(
        verdict(&running, &[unschedulable()], 20),
        Verdict::Pending {
            recheck_in: Some(Duration::from_secs(40))
        }
    );
    let (status, message, _) = failed(&verdict(&running, &[unschedulable()], 61));
    assert_eq!(status, MatchStatus::Error);
    assert!(
        message.starts_with("RESOURCE_EXHAUSTED") && message.contains("Insufficient cpu"),
        "{message}"
    );

    // The orchestrator: exit 0 is a result; OOMKilled and other exits are failures.
    let p = pod(PodStatus {
        container_statuses: Some(vec![terminated(
            job::ORCHESTRATOR_CONTAINER,
            0,
            "Completed",
            "{\"x\":1}",
        )]),
        ..Default::default()
    });
    assert_eq!(
        verdict(&running, &[p], 0),
        Verdict::Succeeded {
            termination_message: Some("{\"x\":1}".into())
        }
    );
    let p = pod(PodStatus {
        container_statuses: Some(vec![terminated(
            job::ORCHESTRATOR_CONTAINER,
            137,
            "OOMKilled",
            "",
        )]),
        ..Default::default()
    });
    assert!(failed(&verdict(&running, &[p], 0)).1.contains("OOMKilled"));
    let p = pod(PodStatus {
        container_statuses: Some(vec![terminated(
            job::ORCHESTRATOR_CONTAINER,
            3,
            "Error",
            "bad spec",
        )]),
        ..Default::default()
    });
    assert_eq!(
        failed(&verdict(&running, &[p], 0)).1,
        "orchestrator failed (exit code 3, Error): bad spec"
    );

    // Evicted pods and node loss.
    let p = pod(PodStatus {
        phase: Some("Failed".into()),
        reason: Some("Evicted".into()),
        message: Some("The node was low on resource: memory.".into()),
        container_statuses: Some(vec![terminated(
            job::ORCHESTRATOR_CONTAINER,
            137,
            "Error",
            "",
        )]),
        ..Default::default()
    });
    let message = failed(&verdict(&running, &[p], 0)).1;
    assert!(
        message.contains("Evicted") && message.contains("low on resource"),
        "{message}"
    );

    // The Job's own conditions: deadline is a timeout, Complete a success.
    let (status, message, _) = failed(&verdict(
        &job_with(&[("Failed", "DeadlineExceeded")]),
        &[],
        0,
    ));
    assert_eq!(status, MatchStatus::Timeout);
    assert!(message.contains("230 s"), "{message}");
    // Past its deadline (FailureTarget, since 1.31 before Failed) the Job stops its pod: the verdict waits for
    // the pod to end, at most the report grace (10 s here), so the stopped orchestrator's report is the result.
    let mut stopping = job_with(&[("FailureTarget", "DeadlineExceeded")]);
    if let Some(c) = stopping.status.as_mut().and_then(|s| s.conditions.as_mut()) {
        c[0].last_transition_time = Some(at(0));
    }
    let terminating = || {
        pod(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        })
    };
    assert_eq!(
        verdict(&stopping, &[terminating()], 4),
        Verdict::Pending {
            recheck_in: Some(Duration::from_secs(6))
        }
    );
    assert_eq!(
        failed(&verdict(&stopping, &[terminating()], 10)).0,
        MatchStatus::Timeout
    );
    let ended = pod(PodStatus {
        phase: Some("Succeeded".into()),
        container_statuses: Some(vec![terminated(
            job::ORCHESTRATOR_CONTAINER,
            0,
            "Completed",
            "{}",
        )]),
        ..Default::default()
    });
    assert_eq!(
        failed(&verdict(&stopping, &[ended], 1)).0,
        MatchStatus::Timeout,
        "a pod stopped at the deadline is a timeout, whatever it exited with"
    );

    // Pod creation refused: a quota is a capacity error at once, admission an error; others are retried.
    let quota = failed_create(
        "Error creating: pods \"match-m-1-abcde\" is forbidden: exceeded quota: matches, requested: \
         limits.memory=4608Mi, used: limits.memory=8Gi, limited: limits.memory=8Gi",
    );
    let (status, message, _) = failed(&verdict_with_events(
        &running,
        &[],
        std::slice::from_ref(&quota),
        0,
    ));
    assert_eq!(status, MatchStatus::Error);
    assert!(
        message.starts_with("RESOURCE_EXHAUSTED: ") && message.contains("exceeded quota: matches"),
        "{message}"
    );
    let psa = failed_create(
        "Error creating: pods \"match-m-1-abcde\" is forbidden: violates PodSecurity \"restricted:latest\"",
    );
    let message = failed(&verdict_with_events(&running, &[], &[psa], 0)).1;
    assert!(
        !message.contains("RESOURCE_EXHAUSTED") && message.contains("violates PodSecurity"),
        "{message}"
    );
    let webhook = failed_create("Error creating: Internal error occurred: failed calling webhook");
    assert_eq!(
        verdict_with_events(&running, &[], &[webhook], 0),
        Verdict::Pending { recheck_in: None }
    );
    assert_eq!(
        verdict_with_events(&running, &[terminating()], &[quota], 0),
        Verdict::Pending { recheck_in: None },
        "a pod exists: a later try succeeded"
    );
    assert_eq!(
        verdict(&job_with(&[("Complete", "")]), &[], 0),
        Verdict::Succeeded {
            termination_message: None
        }
    );
}

#[test]
fn agents_never_ran_only_when_the_orchestrator_certainly_did_not_start() {
    let running = ContainerStatus {
        name: "match-orchestrator".into(),
        state: Some(ContainerState {
            running: Some(Default::default()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let restarted = ContainerStatus {
        last_state: Some(ContainerState {
            terminated: terminated("match-orchestrator", 1, "Error", "")
                .state
                .unwrap()
                .terminated,
            ..Default::default()
        }),
        ..waiting("match-orchestrator", "CrashLoopBackOff")
    };
    let with = |inits: Vec<ContainerStatus>, mains: Vec<ContainerStatus>| {
        pod(PodStatus {
            init_container_statuses: Some(inits),
            container_statuses: Some(mains),
            ..Default::default()
        })
    };
    let quota = failed_create("pods \"match-x\" is forbidden: exceeded quota: arena");
    let cases: Vec<(&str, Vec<Pod>, Vec<Event>, bool)> = vec![
        ("no pod and no event: unknown", vec![], vec![], false),
        ("the pod could not be created", vec![], vec![quota], true),
        (
            "a pod not yet scheduled",
            vec![pod(PodStatus::default())],
            vec![],
            true,
        ),
        (
            "an agent-init failed",
            vec![with(
                vec![terminated("agent-1-init", 10, "Error", "not an archive")],
                vec![waiting("match-orchestrator", "PodInitializing")],
            )],
            vec![],
            true,
        ),
        (
            "the orchestrator image cannot be pulled",
            vec![with(
                vec![],
                vec![waiting("match-orchestrator", "ImagePullBackOff")],
            )],
            vec![],
            true,
        ),
        (
            "the orchestrator could not start",
            vec![with(
                vec![],
                vec![terminated("match-orchestrator", 128, "StartError", "")],
            )],
            vec![],
            true,
        ),
        (
            "the orchestrator runs",
            vec![with(vec![], vec![running])],
            vec![],
            false,
        ),
        (
            "the orchestrator ended",
            vec![with(
                vec![],
                vec![terminated("match-orchestrator", 0, "Completed", "")],
            )],
            vec![],
            false,
        ),
        (
            "the orchestrator ran before",
            vec![with(vec![], vec![restarted])],
            vec![],
            false,
        ),
    ];
    for (case, pods, events, never_ran) in cases {
        let pods: Vec<&Pod> = pods.iter().collect();
        let events: Vec<&Event> = events.iter().collect();
        assert_eq!(
            super::diagnose::agents_never_ran(&pods, &events),
            never_ran,
            "{case}"
        );
    }
}

#[test]
fn termination_messages_that_are_not_outcomes_become_errors_that_say_so() {
    let plan = plan();
    let plan = plan.entrants();
    let outcome = plan.failed(MatchStatus::Success, "");
    let json = serde_json::to_string(&outcome).unwrap();
    assert_eq!(from_termination_message(&plan, Some(&json), 4096), outcome);

    let cut = &json[..json.len() / 2];
    let lost = from_termination_message(&plan, Some(cut), 4096);
    assert_eq!(lost.status, MatchStatus::Error);
    assert!(
        lost.error_message.contains("not a valid outcome"),
        "{}",
        lost.error_message
    );
    let long = format!("{{\"match_id\":\"m-1\",\"x\":\"{}", "a".repeat(4100));
    let lost = from_termination_message(&plan, Some(&long[..4096]), 4096);
    assert!(
        lost.error_message.contains("4096-byte share"),
        "{}",
        lost.error_message
    );
    let lost = from_termination_message(&plan, Some(&long[..3072]), 3072);
    assert!(
        lost.error_message.contains("3072-byte share"),
        "{}",
        lost.error_message
    );
    let none = from_termination_message(&plan, None, 4096);
    assert!(
        none.error_message.contains("no termination"),
        "{}",
        none.error_message
    );
}

#[test]
fn report_tokens_are_hmacs_any_replica_can_check() {
    let key = crate::reporter::ReportKey::new(b"0123456789abcdef0123456789abcdef\n").unwrap();
    let other = crate::reporter::ReportKey::new(b"fedcba9876543210fedcba9876543210").unwrap();
    let token = key.token("m-1");
    assert_eq!(token.len(), 64);
    assert_eq!(token, key.token("m-1"));
    assert!(key.verify("m-1", &token));
    assert!(!key.verify("m-2", &token));
    assert!(!other.verify("m-1", &token));
    assert!(crate::reporter::ReportKey::new(b"short").is_err());
}

#[test]
fn api_permissions_cover_every_call() {
    let has = |g: &str, r: &str, v: &str| super::API_PERMISSIONS.contains(&(g, r, v));
    for verb in ["create", "get", "list", "watch", "delete"] {
        assert!(has("batch", "jobs", verb), "jobs {verb}");
    }
    assert!(has("", "pods", "watch") && has("", "pods", "list"));
    assert!(has("", "secrets", "create"));
    assert!(
        !has("", "secrets", "patch") && !has("", "secrets", "delete"),
        "match Secrets are created owned and never changed"
    );
    assert!(!has("", "secrets", "get") && !has("", "secrets", "list"));
    assert!(has("", "events", "watch") && has("", "events", "list"));
    assert!(!has("", "pods", "log"), "logs are never read");
}

#[test]
fn agent_containers_are_judged_by_whose_image_they_run() {
    let running = job_with(&[]);
    // The pod as built: alice's code in the runtime image (agent-1), bob's own image (agent-2).
    let spec = Some(pod_of(&JobSettings::new(&args(), "http://x").unwrap()));
    let with = |containers: Vec<ContainerStatus>| Pod {
        spec: spec.clone(),
        status: Some(PodStatus {
            start_time: Some(at(0)),
            init_container_statuses: Some(vec![
                terminated("agent-shim", 0, "Completed", ""),
                terminated("agent-1-init", 0, "Completed", ""),
            ]),
            container_statuses: Some(containers),
            ..Default::default()
        }),
        ..Default::default()
    };
    let orchestrator_runs = || ContainerStatus {
        name: job::ORCHESTRATOR_CONTAINER.into(),
        state: Some(ContainerState {
            running: Some(Default::default()),
            ..Default::default()
        }),
        ..Default::default()
    };

    // Bob's own image cannot be pulled: his fault, named.
    let p = with(vec![
        orchestrator_runs(),
        waiting("agent-2", "ImagePullBackOff"),
    ]);
    let v = verdict(&running, &[p], 5);
    let (status, message, faults) = failed(&v);
    assert_eq!((status, faults), (MatchStatus::Error, 1));
    assert!(
        message.contains("agent bob: its image \"registry.example/b:1\" could not be pulled"),
        "{message}"
    );
    if let Verdict::Failed { faults, .. } = &v {
        assert_eq!(faults[0].0, 1, "seat of bob");
    }
    // ErrImagePull gets the transient grace first, then is his fault too.
    let p = with(vec![
        orchestrator_runs(),
        waiting("agent-2", "ErrImagePull"),
    ]);
    assert!(matches!(
        verdict(&running, std::slice::from_ref(&p), 5),
        Verdict::Pending { .. }
    ));
    assert_eq!(failed(&verdict(&running, &[p], 31)).2, 1);
    // The runtime image of code agents is the operator's: no agent is charged.
    let p = with(vec![
        orchestrator_runs(),
        waiting("agent-1", "ImagePullBackOff"),
    ]);
    let (_, message, faults) = failed(&verdict(&running, &[p], 5));
    assert_eq!(faults, 0);
    assert!(
        message.contains(
            "image \"rl-arena/agent-runtime:0.1.0\" of container agent-1 could not be pulled"
        ),
        "{message}"
    );
    // An agent container that ended (OOMKilled too) while the orchestrator plays is the orchestrator's to
    // attribute: the match goes on.
    let p = with(vec![
        orchestrator_runs(),
        terminated("agent-1", 137, "OOMKilled", ""),
    ]);
    assert!(matches!(
        verdict(&running, &[p], 5),
        Verdict::Pending { .. }
    ));
    // Its result stands though the pod and the Job failed because of that container.
    let mut p = with(vec![
        terminated(job::ORCHESTRATOR_CONTAINER, 0, "Completed", "{\"x\":1}"),
        terminated("agent-1", 137, "OOMKilled", ""),
        terminated("agent-2", 0, "Completed", ""),
    ]);
    p.status.as_mut().unwrap().phase = Some("Failed".into());
    assert_eq!(
        verdict(&job_with(&[("Failed", "PodFailurePolicy")]), &[p], 5),
        Verdict::Succeeded {
            termination_message: Some("{\"x\":1}".into())
        }
    );
    // The shim could not be placed: the infrastructure's fault.
    let mut p = with(vec![]);
    p.status.as_mut().unwrap().init_container_statuses = Some(vec![terminated(
        "agent-shim",
        1,
        "Error",
        "no space left on device",
    )]);
    let (_, message, faults) = failed(&verdict(&running, &[p], 5));
    assert_eq!(faults, 0);
    assert!(
        message.contains("agent shim could not be placed") && message.contains("no space left"),
        "{message}"
    );
}
