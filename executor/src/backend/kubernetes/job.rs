//! The one function that turns a match into its Kubernetes objects: a Job (init containers `agent-N-init`,
//! container `match-orchestrator`, hardened to the Pod Security "restricted" profile) and a Secret with the
//! match spec and report token. `serve` creates exactly what `render-job` prints. Longer than most files
//! because the pod is one document: its containers, volumes and hardening read together here.

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

use proto::process::{TERMINATION_LOG, agent_init, orchestrator, utf8_args};

use super::meta;
use super::names::job_name;
use super::sizing::{self, MemoryPolicy};
use crate::agent_sources::AgentSources;
use crate::config::KubernetesArgs;
use crate::error::{Error, Result};
use crate::request::MatchPlan;

/// Field manager of every write.
pub(super) const FIELD_MANAGER: &str = "rl-arena-executor";
/// Name of the orchestrator container, whose termination message is the fallback result.
pub(super) const ORCHESTRATOR_CONTAINER: &str = "match-orchestrator";
/// Where the match pod mounts the Secret.
pub(super) const SPEC_DIR: &str = "/etc/rl-arena";
/// The pod volume of the Secret.
pub(super) const SPEC_VOLUME: &str = "match-spec";
/// Where the agents are installed (an emptyDir shared by the init containers and the orchestrator).
pub(super) const AGENTS_DIR: &str = "/agents";

/// A match's Job and Secret, as created (the Secret gets its owner reference once the Job exists).
#[derive(Debug, Clone)]
pub struct MatchObjects {
    pub job: Job,
    pub secret: Secret,
}

/// Everything from the configuration that shapes a match's objects, checked once at start-up.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub(super) namespace: String,
    orchestrator_image: String,
    agent_init_image: String,
    pull_policy: String,
    pull_secrets: Vec<String>,
    service_account: String,
    orchestrator_cpu: (String, String),
    memory: MemoryPolicy,
    init_resources: ResourceRequirements,
    node_selector: BTreeMap<String, String>,
    tolerations: Vec<Toleration>,
    priority_class: Option<String>,
    runtime_class: Option<String>,
    ttl_sec: i32,
    report_address: String,
    /// What the init containers may install agents from.
    sources: AgentSources,
    /// User and group of every match container.
    match_uid: i64,
    /// Sandbox layers the orchestrator must apply or fail the match.
    require_isolation: Vec<String>,
    /// Containers that webhooks add to each match pod.
    sidecars: usize,
}

impl JobSettings {
    /// Checks and keeps the Kubernetes options; `report_address` is where match pods reach the executor. Init
    /// containers install agents from public addresses only until [`Self::allowing`] says otherwise.
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
            orchestrator_cpu: (
                args.k8s_orchestrator_cpu_request.clone(),
                args.k8s_orchestrator_cpu_limit.clone(),
            ),
            memory: MemoryPolicy::new(
                &args.k8s_orchestrator_memory_request,
                &args.k8s_orchestrator_memory_headroom,
                &args.k8s_orchestrator_memory_limit,
            )?,
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
            ttl_sec,
            report_address: report_address.to_string(),
            sources: AgentSources::default(),
            match_uid: args.k8s_match_uid,
            require_isolation: isolation_layers(&args.k8s_require_isolation)?,
            sidecars: args.k8s_sidecar_containers as usize,
        })
    }

    /// The init containers install agents from `sources` (local code roots, hosts besides public addresses).
    pub(crate) fn allowing(mut self, sources: &AgentSources) -> Self {
        self.sources = sources.clone();
        self
    }

    /// The Job's `activeDeadlineSeconds` for a match: the caller's whole budget, counted from the Job's start,
    /// so pod start-up and agent installs draw on it.
    pub(super) fn deadline_sec(plan: &MatchPlan) -> u64 {
        plan.timeout.as_secs().max(1)
    }

    /// Room for the orchestrator's result in a match pod's termination messages: the pod's 12 KiB split
    /// across its init containers, the orchestrator and injected sidecars.
    pub(super) fn result_max_bytes(&self, agents: usize) -> usize {
        sizing::result_max_bytes(agents + 1 + self.sidecars)
    }

    /// Builds a match's Job and Secret.
    pub fn build(&self, plan: &MatchPlan, fingerprint: &str, token: &str) -> Result<MatchObjects> {
        let name = job_name(&plan.match_id);
        let labels = meta::labels(&plan.match_id);
        let annotations = meta::annotations(fingerprint, plan)?;
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
        let memory = self
            .memory
            .for_match(plan.agents.len(), plan.limits.memory_mb)?;
        // The Secret carries the request's fingerprint too; its owner, the Job, is set when it is created.
        // Its name is new (the Job's and a random suffix): a Secret left by an earlier Job of the same name
        // (Secrets are immutable, its data another match's) is never the one this pod mounts.
        let secret_name = format!("{name}-{:08x}", rand::random::<u32>());
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.clone()),
                annotations: Some(BTreeMap::from([(
                    meta::FINGERPRINT_ANNOTATION.to_string(),
                    fingerprint.to_string(),
                )])),
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
                args: Some(self.agent_init_args(&agent.source, i)),
                resources: Some(self.init_resources.clone()),
                security_context: Some(container_security(self.match_uid)),
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
            args: Some(self.orchestrator_args(self.result_max_bytes(plan.agents.len()))),
            working_dir: Some(AGENTS_DIR.into()),
            resources: Some(resources(
                &self.orchestrator_cpu.0,
                &format!("{}Mi", memory.request_mib),
                &self.orchestrator_cpu.1,
                &format!("{}Mi", memory.limit_mib),
            )),
            security_context: Some(container_security(self.match_uid)),
            // The result is read from here, never from logs.
            termination_message_path: Some(TERMINATION_LOG.into()),
            termination_message_policy: Some("File".into()),
            volume_mounts: Some(vec![
                mount("agents", AGENTS_DIR, true),
                mount(SPEC_VOLUME, SPEC_DIR, true),
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
                run_as_user: Some(self.match_uid),
                run_as_group: Some(self.match_uid),
                fs_group: Some(self.match_uid),
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
                    name: SPEC_VOLUME.into(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret_name.clone()),
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
        let deadline = i64::try_from(Self::deadline_sec(plan)).unwrap_or(i64::MAX);
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

impl JobSettings {
    /// The `match-orchestrator` container's command line (a local orchestrator gets the same flags with its
    /// work directory's paths).
    fn orchestrator_args(&self, result_max_bytes: usize) -> Vec<String> {
        let run = orchestrator::Run {
            report: Some(orchestrator::Report {
                to: self.report_address.clone(),
                token_file: format!("{SPEC_DIR}/token").into(),
                retry_ms: None,
            }),
            result_file: Some(TERMINATION_LOG.into()),
            // The pod's termination messages have little room: the orchestrator shortens its outcome.
            result_max_bytes: Some(result_max_bytes),
            require_isolation: self.require_isolation.clone(),
            log_format: orchestrator::LogFormat::Json,
            ..orchestrator::Run::new(format!("{SPEC_DIR}/spec.json"))
        };
        utf8_args(run.args())
    }

    /// The `agent-N-init` container's command line for seat `i` (`agent-init` on the executor's machine gets
    /// the same flags).
    fn agent_init_args(&self, source: &str, i: usize) -> Vec<String> {
        let install = agent_init::Install {
            source: source.to_string(),
            dest: format!("{AGENTS_DIR}/agent-{}", i + 1).into(),
            result_file: Some(TERMINATION_LOG.into()),
            sha256: None,
            access: self.sources.access(),
        };
        utf8_args(install.args())
    }
}

/// The owner reference that makes deleting the Job delete the Secret.
pub(super) fn owner_reference(job: &Job) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.metadata.name.clone()?,
        uid: job.metadata.uid.clone()?,
        controller: None,
        block_owner_deletion: None,
    })
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
            vec![
                i32::from(agent_init::Exit::BadArtifact.code()),
                i32::from(agent_init::Exit::Unreachable.code()),
            ],
        ));
    }
    rules.push(fail(
        ORCHESTRATOR_CONTAINER,
        "NotIn",
        vec![i32::from(orchestrator::Exit::Finished.code())],
    ));
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

/// The sandbox layer names of the configuration, without blanks; a name that is no layer name at all is a
/// configuration error (the orchestrator checks that each names a layer it knows).
fn isolation_layers(names: &[String]) -> Result<Vec<String>> {
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(bad) = names
        .iter()
        .find(|n| !n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(Error::InvalidConfig(format!(
            "k8s-require-isolation {bad:?}: layer names are lower case with underscores, such as seccomp or \
             landlock_fs (see `orchestrator run --help`)"
        )));
    }
    Ok(names)
}

/// The "restricted" Pod Security profile, per container, as user and group `uid`.
fn container_security(uid: i64) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
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
