//! Unit tests of the Kubernetes backend's pure parts: Job names, the Job and Secret builder, the verdicts of
//! the diagnosis and the termination-message fallback. Long because the diagnosis is a table of every cause.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod,
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
fn job_names_are_dns_labels_and_keep_ids_that_already_are() {
    let long = "a".repeat(63);
    let long_upper = format!("{}B", "a".repeat(62));
    let cases: &[(&str, Option<&str>)] = &[
        ("m1", Some("m1")),
        ("match-2026-11-26", Some("match-2026-11-26")),
        (&long, Some(&long)),
        ("M1", None),
        ("match_1", None),
        ("a.b.c", None),
        ("1.2", None),
        (&long_upper, None),
    ];
    for (id, kept) in cases {
        let name = job_name(id);
        assert!(
            is_dns_label(&name),
            "{id:?} -> {name:?} is not a DNS-1123 label"
        );
        assert_eq!(name, job_name(id), "{id:?}: not deterministic");
        match kept {
            Some(kept) => assert_eq!(&name, kept, "{id:?}"),
            None => {
                assert_ne!(&name, id, "{id:?} must be changed");
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
        format!("match-1-{}", &hash("match_1")[..8])
    );
    assert_eq!(job_name("a.b.c"), format!("a-b-c-{}", &hash("a.b.c")[..8]));
    // Ids that clean to the same text still get different names.
    assert_ne!(job_name("M1"), job_name("m_1"));
    assert_ne!(job_name("a.b"), job_name("a_b"));
    assert_eq!(job_name(&long_upper).len(), 63);
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
    assert_eq!(spec.active_deadline_seconds, Some(100 + 10 + 120));
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

    // Pod Security "restricted": every container and the pod.
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let inits = pod.init_containers.as_ref().unwrap();
    let names: Vec<_> = inits
        .iter()
        .chain(&pod.containers)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["agent-1-init", "agent-2-init", "match-orchestrator"]
    );
    for c in inits.iter().chain(&pod.containers) {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
        assert_eq!(sc.run_as_non_root, Some(true), "{}", c.name);
        assert_eq!(sc.run_as_user, Some(65532), "{}", c.name);
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..])
        );
        assert!(sc.capabilities.as_ref().unwrap().add.is_none());
        assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
        assert_eq!(
            c.termination_message_policy.as_deref(),
            Some("File"),
            "never from logs"
        );
    }
    assert_eq!(
        inits[1].args.as_ref().unwrap(),
        &[
            "--source",
            "oci://registry.example/b:1",
            "--dest",
            "/agents/agent-2",
            "--result-file",
            "/dev/termination-log",
            "--allow-hosts=",
            "--local-roots=",
        ]
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
    assert!(
        args.windows(2).any(|w| w == ["--result-max-bytes", "4096"]),
        "{args:?}"
    );

    // The Secret: the spec with in-pod agent dirs, and the token.
    let secret = &objects.secret;
    assert_eq!(secret.metadata.name, job.metadata.name);
    assert_eq!(secret.metadata.labels.as_ref(), Some(labels));
    let data = secret.data.as_ref().unwrap();
    assert_eq!(data["token"].0, b"tok");
    let spec: proto::spec::MatchSpec = serde_json::from_slice(&data["spec.json"].0).unwrap();
    assert_eq!(spec.seed, 7);
    assert_eq!(spec.agents[1].dir, std::path::Path::new("agent-2"));
    assert_eq!(
        pod.containers[0].working_dir.as_deref(),
        Some("/agents"),
        "agent dirs are relative to it"
    );
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
    let ids = ["alice".to_string(), "bob".to_string()];
    let pods: Vec<&Pod> = pods.iter().collect();
    diagnose(
        job,
        &pods,
        &Context {
            agent_ids: &ids,
            startup_budget: Duration::from_secs(60),
            now: at(now).0,
        },
    )
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

    // Image pull errors and bad container config fail at once.
    for reason in [
        "ErrImagePull",
        "ImagePullBackOff",
        "CreateContainerConfigError",
    ] {
        let p = pod(PodStatus {
            init_container_statuses: Some(vec![waiting("agent-1-init", reason)]),
            ..Default::default()
        });
        let v = verdict(&running, &[p], 0);
        let (status, message, _) = failed(&v);
        assert_eq!(status, MatchStatus::Error);
        assert!(
            message.contains(reason) && message.contains("agent-1-init"),
            "{message}"
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
    assert_eq!(
        verdict(&job_with(&[("Complete", "")]), &[], 0),
        Verdict::Succeeded {
            termination_message: None
        }
    );
}

#[test]
fn termination_messages_that_are_not_outcomes_become_errors_that_say_so() {
    let plan = plan();
    let plan = plan.entrants();
    let outcome = plan.failed(MatchStatus::Success, "");
    let json = serde_json::to_string(&outcome).unwrap();
    assert_eq!(from_termination_message(&plan, Some(&json)), outcome);

    let cut = &json[..json.len() / 2];
    let lost = from_termination_message(&plan, Some(cut));
    assert_eq!(lost.status, MatchStatus::Error);
    assert!(
        lost.error_message.contains("not a valid outcome"),
        "{}",
        lost.error_message
    );
    let long = format!("{{\"match_id\":\"m-1\",\"x\":\"{}", "a".repeat(4100));
    let lost = from_termination_message(&plan, Some(&long[..4096]));
    assert!(
        lost.error_message.contains("4096-byte limit"),
        "{}",
        lost.error_message
    );
    let none = from_termination_message(&plan, None);
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
    assert!(has("", "secrets", "create") && has("", "secrets", "patch"));
    assert!(!has("", "pods", "log"), "logs are never read");
}
