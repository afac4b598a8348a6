//! The one function that turns a match into its Kubernetes objects: a Job (init containers `agent-N-init`,
//! container `match-orchestrator`, hardened to the Pod Security "restricted" profile) and a Secret with the
//! match spec and report token. `serve` creates exactly what `render-job` prints.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, LocalObjectReference, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, Secret, SecretVolumeSource,
    SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::names::job_name;
use crate::config::KubernetesArgs;
use crate::error::{Error, Result};
use crate::request::MatchPlan;

/// Label that marks every object the executor manages (the watches select on it).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "rl-arena-executor";
/// Label holding the match id (match ids are valid label values).
pub const MATCH_ID_LABEL: &str = "match-id";
pub const COMPONENT_LABEL: &str = "component";
pub const COMPONENT: &str = "match-executor";
/// Annotation with the request fingerprint: a repeated request attaches only when it matches.
pub const FINGERPRINT_ANNOTATION: &str = "rl-arena.dev/fingerprint";
/// Annotation with the environment, so any replica can record the result of a Job it did not create.
pub const ENVIRONMENT_ANNOTATION: &str = "rl-arena.dev/environment";
/// Annotation with the agent ids in seat order (a JSON array).
pub const AGENT_IDS_ANNOTATION: &str = "rl-arena.dev/agent-ids";
/// Field manager of every write.
pub const FIELD_MANAGER: &str = "rl-arena-executor";
/// Name of the orchestrator container, whose termination message is the fallback result.
pub const ORCHESTRATOR_CONTAINER: &str = "match-orchestrator";
/// Where the match pod mounts the Secret.
pub const SPEC_DIR: &str = "/etc/rl-arena";
/// Where the agents are installed (an emptyDir shared by the init containers and the orchestrator).
pub const AGENTS_DIR: &str = "/agents";
/// The Kubernetes termination message file; agent-init and the orchestrator write their results there.
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// Largest termination message Kubernetes keeps.
pub const TERMINATION_MESSAGE_MAX: usize = 4096;
/// Non-root user and group of every match container.
pub const MATCH_UID: i64 = 65532;
/// `agent-init` exit code: the artifact is bad (the agent's fault).
pub const AGENT_INIT_BAD_ARTIFACT: i32 = 10;
/// `agent-init` exit code: the source could not be reached (the infrastructure's fault).
pub const AGENT_INIT_UNREACHABLE: i32 = 11;

/// A match's Job and Secret, as created (the Secret gets its owner reference once the Job exists).
#[derive(Debug, Clone)]
pub struct MatchObjects {
    pub job: Job,
    pub secret: Secret,
}

/// Everything from the configuration that shapes a match's objects, checked once at start-up.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub namespace: String,
    orchestrator_image: String,
    agent_init_image: String,
    pull_policy: String,
    pull_secrets: Vec<String>,
    service_account: String,
    orchestrator_resources: ResourceRequirements,
    init_resources: ResourceRequirements,
    node_selector: BTreeMap<String, String>,
    tolerations: Vec<Toleration>,
    priority_class: Option<String>,
    runtime_class: Option<String>,
    deadline_slack_sec: u64,
    ttl_sec: i32,
    report_address: String,
}

impl JobSettings {
    /// Checks and keeps the Kubernetes options; `report_address` is where match pods reach the executor.
    pub fn new(args: &KubernetesArgs, report_address: &str) -> Result<Self> {
        let bad = |msg: String| Error::InvalidConfig(msg);
        let node_selector = args
            .k8s_node_selector
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| {
                        bad(format!(
                            "k8s-node-selector {pair:?}: expected key=value, such as pool=matches"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        let tolerations = match args.k8s_tolerations.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                bad(format!(
                    "k8s-tolerations: {e}; give a JSON array such as \
                     [{{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"matches\",\"effect\":\"NoSchedule\"}}]"
                ))
            })?,
        };
        let ttl_sec =
            i32::try_from(args.k8s_ttl_sec).map_err(|_| bad("k8s-ttl-sec is too large".into()))?;
        Ok(Self {
            namespace: args.k8s_namespace.clone(),
            orchestrator_image: args.k8s_orchestrator_image.clone(),
            agent_init_image: args.k8s_agent_init_image.clone(),
            pull_policy: args.k8s_image_pull_policy.clone(),
            pull_secrets: args
                .k8s_image_pull_secrets
                .iter()
                .filter(|s| !s.trim().is_empty())
                .cloned()
                .collect(),
            service_account: args.k8s_service_account.clone(),
            orchestrator_resources: resources(
                &args.k8s_orchestrator_cpu_request,
                &args.k8s_orchestrator_memory_request,
                &args.k8s_orchestrator_cpu_limit,
                &args.k8s_orchestrator_memory_limit,
            ),
            init_resources: resources(
                &args.k8s_init_cpu_request,
                &args.k8s_init_memory_request,
                &args.k8s_init_cpu_limit,
                &args.k8s_init_memory_limit,
            ),
            node_selector,
            tolerations,
            priority_class: args.k8s_priority_class.clone().filter(|s| !s.is_empty()),
            runtime_class: args.k8s_runtime_class.clone().filter(|s| !s.is_empty()),
            deadline_slack_sec: args.k8s_deadline_slack_sec,
            ttl_sec,
            report_address: report_address.to_string(),
        })
    }

    /// The Job's `activeDeadlineSeconds` for a match: its budget, agent start-up and the slack.
    pub fn deadline_sec(&self, plan: &MatchPlan) -> u64 {
        plan.timeout.as_secs() + plan.limits.init_ms.div_ceil(1000) + self.deadline_slack_sec
    }

    /// Builds a match's Job and Secret.
    pub fn build(&self, plan: &MatchPlan, fingerprint: &str, token: &str) -> Result<MatchObjects> {
        let name = job_name(&plan.match_id);
        let labels = labels(&plan.match_id);
        let agent_ids: Vec<&str> = plan.agents.iter().map(|a| a.agent_id.as_str()).collect();
        let annotations = BTreeMap::from([
            (FINGERPRINT_ANNOTATION.to_string(), fingerprint.to_string()),
            (ENVIRONMENT_ANNOTATION.to_string(), plan.environment.clone()),
            (
                AGENT_IDS_ANNOTATION.to_string(),
                serde_json::to_string(&agent_ids)
                    .map_err(|e| Error::Internal(format!("encoding agent ids: {e}")))?,
            ),
        ]);
        let meta = ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        };

        // Agent dirs relative to the orchestrator's working directory, `/agents`: the same files in a real pod,
        // and paths a node that maps volumes elsewhere (the simulator) can resolve too.
        let spec_json =
            plan.spec_json((1..=plan.agents.len()).map(|i| format!("agent-{i}").into()))?;
        let secret = Secret {
            metadata: ObjectMeta {
                annotations: None,
                ..meta.clone()
            },
            type_: Some("Opaque".into()),
            immutable: Some(true),
            data: Some(BTreeMap::from([
                ("spec.json".to_string(), ByteString(spec_json)),
                ("token".to_string(), ByteString(token.as_bytes().to_vec())),
            ])),
            ..Default::default()
        };

        let init_containers = plan
            .agents
            .iter()
            .enumerate()
            .map(|(i, agent)| Container {
                name: format!("agent-{}-init", i + 1),
                image: Some(self.agent_init_image.clone()),
                image_pull_policy: Some(self.pull_policy.clone()),
                args: Some(vec![
                    "--source".into(),
                    agent.source.clone(),
                    "--dest".into(),
                    format!("{AGENTS_DIR}/agent-{}", i + 1),
                    "--result-file".into(),
                    TERMINATION_LOG.into(),
                ]),
                resources: Some(self.init_resources.clone()),
                security_context: Some(container_security()),
                termination_message_path: Some(TERMINATION_LOG.into()),
                termination_message_policy: Some("File".into()),
                volume_mounts: Some(vec![mount("agents", AGENTS_DIR, false), tmp_mount()]),
                ..Default::default()
            })
            .collect();
        let orchestrator = Container {
            name: ORCHESTRATOR_CONTAINER.into(),
            image: Some(self.orchestrator_image.clone()),
            image_pull_policy: Some(self.pull_policy.clone()),
            args: Some(vec![
                "run".into(),
                "--spec".into(),
                format!("{SPEC_DIR}/spec.json"),
                "--token-file".into(),
                format!("{SPEC_DIR}/token"),
                "--report-to".into(),
                self.report_address.clone(),
                "--result-file".into(),
                TERMINATION_LOG.into(),
                // The termination message holds at most 4096 bytes: the orchestrator shortens its outcome.
                "--result-max-bytes".into(),
                TERMINATION_MESSAGE_MAX.to_string(),
                "--log-format".into(),
                "json".into(),
            ]),
            working_dir: Some(AGENTS_DIR.into()),
            resources: Some(self.orchestrator_resources.clone()),
            security_context: Some(container_security()),
            // The result is read from here, never from logs.
            termination_message_path: Some(TERMINATION_LOG.into()),
            termination_message_policy: Some("File".into()),
            volume_mounts: Some(vec![
                mount("agents", AGENTS_DIR, true),
                mount("match-spec", SPEC_DIR, true),
                tmp_mount(),
            ]),
            ..Default::default()
        };
        let pod = PodSpec {
            restart_policy: Some("Never".into()),
            service_account_name: Some(self.service_account.clone()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(MATCH_UID),
                run_as_group: Some(MATCH_UID),
                fs_group: Some(MATCH_UID),
                seccomp_profile: Some(runtime_default()),
                ..Default::default()
            }),
            init_containers: Some(init_containers),
            containers: vec![orchestrator],
            volumes: Some(vec![
                Volume {
                    name: "agents".into(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Default::default()
                },
                Volume {
                    name: "tmp".into(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Default::default()
                },
                Volume {
                    name: "match-spec".into(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(name.clone()),
                        default_mode: Some(0o440),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            image_pull_secrets: (!self.pull_secrets.is_empty()).then(|| {
                self.pull_secrets
                    .iter()
                    .map(|s| LocalObjectReference { name: s.clone() })
                    .collect()
            }),
            node_selector: (!self.node_selector.is_empty()).then(|| self.node_selector.clone()),
            tolerations: (!self.tolerations.is_empty()).then(|| self.tolerations.clone()),
            priority_class_name: self.priority_class.clone(),
            runtime_class_name: self.runtime_class.clone(),
            ..Default::default()
        };
        let deadline = i64::try_from(self.deadline_sec(plan)).unwrap_or(i64::MAX);
        let job = Job {
            metadata: meta,
            spec: Some(JobSpec {
                backoff_limit: Some(0),
                active_deadline_seconds: Some(deadline),
                ttl_seconds_after_finished: Some(self.ttl_sec),
                pod_failure_policy: Some(failure_policy(plan.agents.len())),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    }),
                    spec: Some(pod),
                },
                ..Default::default()
            }),
            status: None,
        };
        Ok(MatchObjects { job, secret })
    }
}

/// The labels of a match's Job, pod and Secret.
pub fn labels(match_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (MATCH_ID_LABEL.to_string(), match_id.to_string()),
        (COMPONENT_LABEL.to_string(), COMPONENT.to_string()),
    ])
}

/// The owner reference that makes deleting the Job delete the Secret.
pub fn owner_reference(job: &Job) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.metadata.name.clone()?,
        uid: job.metadata.uid.clone()?,
        controller: None,
        block_owner_deletion: None,
    })
}

/// The Job and Secret as a YAML stream (Job first), for `executor render-job`; k8s-openapi writes each
/// object's `apiVersion` and `kind`.
pub fn render_yaml(objects: &MatchObjects) -> Result<String> {
    let encode = |v: serde_json::Result<serde_json::Value>| -> Result<String> {
        let value = v.map_err(|e| Error::Internal(format!("encoding a manifest: {e}")))?;
        serde_yaml::to_string(&value)
            .map_err(|e| Error::Internal(format!("writing a manifest as YAML: {e}")))
    };
    let job = encode(serde_json::to_value(&objects.job))?;
    let secret = encode(serde_json::to_value(&objects.secret))?;
    Ok(format!("---\n{job}---\n{secret}"))
}

/// Ends the Job at the first failed pod with a reason per cause (backoffLimit 0 would fail it anyway; the
/// rules name the cause in the Job's condition and keep disruptions from being retried).
fn failure_policy(agents: usize) -> PodFailurePolicy {
    let fail = |container: &str, operator: &str, values: Vec<i32>| PodFailurePolicyRule {
        action: "FailJob".into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: Some(container.to_string()),
            operator: operator.into(),
            values,
        }),
        on_pod_conditions: None,
    };
    let mut rules = vec![PodFailurePolicyRule {
        action: "FailJob".into(),
        on_exit_codes: None,
        on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
        }]),
    }];
    for i in 1..=agents {
        rules.push(fail(
            &format!("agent-{i}-init"),
            "In",
            vec![AGENT_INIT_BAD_ARTIFACT, AGENT_INIT_UNREACHABLE],
        ));
    }
    rules.push(fail(ORCHESTRATOR_CONTAINER, "NotIn", vec![0]));
    PodFailurePolicy { rules }
}

fn resources(cpu_req: &str, mem_req: &str, cpu_lim: &str, mem_lim: &str) -> ResourceRequirements {
    let pair = |cpu: &str, mem: &str| {
        Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(mem.to_string())),
        ]))
    };
    ResourceRequirements {
        requests: pair(cpu_req, mem_req),
        limits: pair(cpu_lim, mem_lim),
        ..Default::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

/// The "restricted" Pod Security profile, per container.
fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(MATCH_UID),
        run_as_group: Some(MATCH_UID),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

fn tmp_mount() -> VolumeMount {
    mount("tmp", "/tmp", false)
}
