//! Configuration of the `executor` binary: flags, environment variables and an optional TOML file.
//!
//! Precedence, highest first: command-line flags, environment variables (named beside each flag, which is how
//! pods are configured), the file given with `--config` / `EXECUTOR_CONFIG`, built-in defaults. The file's keys
//! are the long flag names (`max-concurrent-matches = 8`; `max_concurrent_matches` works too); unknown keys are
//! an error. `executor config print` shows the effective configuration.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::error::{Error, Result};

/// RL Arena match executor: plays matches between agents and reports the results over gRPC.
#[derive(Debug, Parser)]
#[command(name = "executor", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// TOML file with defaults for any flag of the command (keys are long flag names).
    #[arg(long, env = "EXECUTOR_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve `executor.Executor` and `executor.MatchReporter` over gRPC, plus metrics and replays over HTTP.
    Serve(ServeArgs),
    /// Play one match through a gRPC executor and print the result: an embedded one on 127.0.0.1 (started
    /// and stopped around the match), or a running one given with `--addr`.
    Play(PlayArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the Kubernetes Job and Secret (YAML) that `serve --backend kubernetes` would create for a sample
    /// pong match, for review and `kubectl apply --dry-run=server -f -`.
    RenderJob(RenderJobArgs),
}

/// Options of `executor render-job`: the options of `serve` and the sample match.
#[derive(Debug, Clone, Args)]
pub struct RenderJobArgs {
    /// Match id of the sample match.
    #[arg(long, env = "EXECUTOR_RENDER_MATCH_ID", default_value = "sample-match")]
    pub match_id: String,
    /// Code URLs (or oci:// images) of the sample match's two agents.
    #[arg(long = "agent", env = "EXECUTOR_RENDER_AGENTS", value_delimiter = ',',
          default_values_t = ["https://agents.example/agent-a.zip".to_string(), "oci://registry.example/agents/b:1".to_string()])]
    pub agents: Vec<String>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration of `serve` as TOML (file, environment and flags applied).
    Print(ServeArgs),
}

/// Logging options shared by every command.
#[derive(Debug, Clone, Args, Serialize)]
pub struct TelemetryArgs {
    /// Log line format.
    #[arg(long, env = "EXECUTOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl LogFormat {
    /// How the lines look: compact coloured text, or JSON with the fields under `fields`.
    pub fn lines(self) -> common::telemetry::Format {
        match self {
            LogFormat::Pretty => common::telemetry::Format::Text {
                compact: true,
                plain: false,
            },
            LogFormat::Json => common::telemetry::Format::Json { flatten: false },
        }
    }
}

/// Options of `executor serve`.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ServeArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "EXECUTOR_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// Address of the HTTP server for `/metrics`, `/healthz`, `/readyz` and `/replays/<file>`; `off` disables it.
    #[arg(long, env = "EXECUTOR_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    pub http_listen: String,
    /// Time running matches get to finish after SIGTERM before they are cancelled, in seconds.
    #[arg(long, env = "EXECUTOR_DRAIN_GRACE_SEC", default_value_t = 60)]
    pub drain_grace_sec: u64,
    #[command(flatten)]
    #[serde(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub executor: ExecutorArgs,
}

/// Limits on the connections of the gRPC and HTTP listeners (see `connections` in the code map). At a cap, a
/// new connection takes the place of one that never sent a request or of the longest idle one; when all are
/// busy, a few more answer health checks only. The caps are lowered to fit the open-file limit, whose soft
/// value is raised to the hard one at start.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ConnectionArgs {
    /// Most gRPC connections open at once.
    #[arg(long, env = "EXECUTOR_MAX_GRPC_CONNECTIONS", default_value_t = ConnectionArgs::DEFAULT.max_grpc_connections)]
    pub max_grpc_connections: usize,
    /// Most HTTP connections open at once.
    #[arg(long, env = "EXECUTOR_MAX_HTTP_CONNECTIONS", default_value_t = ConnectionArgs::DEFAULT.max_http_connections)]
    pub max_http_connections: usize,
    /// Time a new connection has to complete its first request (TCP and HTTP/2 handshakes, the request's
    /// headers), in milliseconds; then it is closed.
    #[arg(long, env = "EXECUTOR_CONNECTION_FIRST_REQUEST_TIMEOUT_MS",
          default_value_t = ConnectionArgs::DEFAULT.connection_first_request_timeout_ms)]
    pub connection_first_request_timeout_ms: u64,
    /// Time a connection may stay open without a request in flight, in milliseconds; a long request (a
    /// `RunMatch`, a watch, a report stream) keeps its connection however long it lasts.
    #[arg(long, env = "EXECUTOR_CONNECTION_IDLE_TIMEOUT_MS",
          default_value_t = ConnectionArgs::DEFAULT.connection_idle_timeout_ms)]
    pub connection_idle_timeout_ms: u64,
}

impl ConnectionArgs {
    /// The defaults (also what the embedded executor of `play` uses).
    pub const DEFAULT: Self = Self {
        max_grpc_connections: 4096,
        max_http_connections: 1024,
        connection_first_request_timeout_ms: 10_000,
        connection_idle_timeout_ms: 120_000,
    };
}

/// How matches are run; shared by `serve` and the embedded executor of `play`.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ExecutorArgs {
    /// Directory for match work directories, and for replays and results unless `--store-url` says otherwise.
    #[arg(long, env = "EXECUTOR_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Where replays and results are stored: file:///dir, s3://bucket/prefix, gs://bucket/prefix or
    /// az://container/prefix (credentials from the cloud's standard environment variables). Default: the data
    /// directory.
    #[arg(long, env = "EXECUTOR_STORE_URL")]
    pub store_url: Option<String>,
    /// Base URL under which replays are published; replay URLs become `<base>/<match_id>.json`. Without it
    /// they are the store's URLs. A relative base such as `replays` publishes paths relative to the store's
    /// directory, for a backend that shares it (docs/deploy.md).
    #[arg(long, env = "EXECUTOR_REPLAY_BASE_URL")]
    pub replay_base_url: Option<String>,
    /// File holding a token that downloads from `/replays/` must present (`Authorization: Bearer <token>`).
    /// Without it, anyone who can reach the HTTP endpoint and knows a match id can read its replay.
    #[arg(long, env = "EXECUTOR_REPLAY_TOKEN_FILE")]
    pub replay_token_file: Option<PathBuf>,
    /// Store replay JSON gzip-compressed (`<match_id>.json.gz`).
    #[arg(long, env = "EXECUTOR_REPLAY_GZIP", default_value_t = false)]
    pub replay_gzip: bool,
    /// Largest replay kept, in bytes: a request whose replay could grow larger (the environment's episode
    /// limit times what a step takes) is refused when it arrives, and a replay that still comes out larger is
    /// not stored (the result says so).
    #[arg(long, env = "EXECUTOR_MAX_REPLAY_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_replay_bytes: u64,
    /// For tests only: a lower limit for the replay copy a report stream carries, so that tests can reach it
    /// with short matches. Never set it in production.
    #[arg(long, env = "EXECUTOR_TEST_REPORT_REPLAY_CAP_BYTES", hide = true)]
    pub test_report_replay_cap_bytes: Option<u64>,
    /// Matches played at the same time; further requests wait in the queue.
    #[arg(long, env = "EXECUTOR_MAX_CONCURRENT_MATCHES", default_value_t = 4)]
    pub max_concurrent_matches: usize,
    /// Matches allowed to wait for a free slot; beyond it requests get `RESOURCE_EXHAUSTED`.
    #[arg(long, env = "EXECUTOR_MAX_QUEUED_MATCHES", default_value_t = 64)]
    pub max_queued_matches: usize,
    /// Match time budget in seconds used when a request gives `timeout_sec = 0`.
    #[arg(long, env = "EXECUTOR_DEFAULT_TIMEOUT_SEC", default_value_t = 300)]
    pub default_timeout_sec: u32,
    /// Largest `timeout_sec` a request may ask for.
    #[arg(long, env = "EXECUTOR_MAX_TIMEOUT_SEC", default_value_t = 3600)]
    pub max_timeout_sec: u32,
    #[command(flatten)]
    #[serde(flatten)]
    pub agent_limits: AgentLimitArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub agent_sources: AgentSourceArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub binaries: BinaryArgs,
    /// Where matches run: `local` child processes, or one `kubernetes` Job per match.
    #[arg(long, env = "EXECUTOR_BACKEND", value_enum, default_value_t = BackendKind::Local)]
    pub backend: BackendKind,
    #[command(flatten)]
    #[serde(flatten)]
    pub kubernetes: KubernetesArgs,
}

/// Where matches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    Local,
    Kubernetes,
}

/// Options of the Kubernetes backend (`--backend kubernetes`). The kube client uses the in-cluster config,
/// else the kubeconfig (`KUBECONFIG`, `~/.kube/config`).
#[derive(Debug, Clone, Args, Serialize)]
pub struct KubernetesArgs {
    /// Namespace of the match Jobs and Secrets.
    #[arg(long, env = "EXECUTOR_K8S_NAMESPACE", default_value = "rl-arena")]
    pub k8s_namespace: String,
    /// Image of the `match-orchestrator` container (runs `orchestrator run`).
    #[arg(long, env = "EXECUTOR_K8S_ORCHESTRATOR_IMAGE", default_value = concat!("rl-arena/orchestrator:", env!("CARGO_PKG_VERSION")))]
    pub k8s_orchestrator_image: String,
    /// Image of the `agent-N-init` init containers (runs `agent-init`).
    #[arg(long, env = "EXECUTOR_K8S_AGENT_INIT_IMAGE", default_value = concat!("rl-arena/agent-init:", env!("CARGO_PKG_VERSION")))]
    pub k8s_agent_init_image: String,
    /// Image pull policy of the match containers: Always, IfNotPresent or Never.
    #[arg(long, env = "EXECUTOR_K8S_IMAGE_PULL_POLICY", default_value = "IfNotPresent",
          value_parser = ["Always", "IfNotPresent", "Never"])]
    pub k8s_image_pull_policy: String,
    /// Image pull Secrets of the match pods (comma-separated names).
    #[arg(long, env = "EXECUTOR_K8S_IMAGE_PULL_SECRETS", value_delimiter = ',')]
    pub k8s_image_pull_secrets: Vec<String>,
    /// ServiceAccount of the match pods; its token is never mounted.
    #[arg(
        long,
        env = "EXECUTOR_K8S_SERVICE_ACCOUNT",
        default_value = "rl-arena-match"
    )]
    pub k8s_service_account: String,
    /// CPU request of the `match-orchestrator` container (the environment, the replay and the report; each
    /// agent has a container of its own).
    #[arg(
        long,
        env = "EXECUTOR_K8S_ORCHESTRATOR_CPU_REQUEST",
        default_value = "500m"
    )]
    pub k8s_orchestrator_cpu_request: String,
    /// CPU limit of the `match-orchestrator` container.
    #[arg(long, env = "EXECUTOR_K8S_ORCHESTRATOR_CPU_LIMIT", default_value = "2")]
    pub k8s_orchestrator_cpu_limit: String,
    /// Memory request of the `match-orchestrator` container.
    #[arg(
        long,
        env = "EXECUTOR_K8S_ORCHESTRATOR_MEMORY_REQUEST",
        default_value = "256Mi"
    )]
    pub k8s_orchestrator_memory_request: String,
    /// Memory limit of the `match-orchestrator` container (the orchestrator alone: agents have containers of
    /// their own).
    #[arg(
        long,
        env = "EXECUTOR_K8S_ORCHESTRATOR_MEMORY_LIMIT",
        default_value = "512Mi"
    )]
    pub k8s_orchestrator_memory_limit: String,
    /// Image of the `agent-N` containers of agents given as `code_url`: their code is installed into it by
    /// `agent-N-init` and run with its Python (the image shipped has python3, NumPy and `rl-arena`). Agents
    /// given as `docker_image` run in their own image.
    #[arg(long, env = "EXECUTOR_K8S_AGENT_RUNTIME_IMAGE", default_value = concat!("rl-arena/agent-runtime:", env!("CARGO_PKG_VERSION")))]
    pub k8s_agent_runtime_image: String,
    /// Runtime images per environment, for `code_url` agents of that environment (comma-separated
    /// ENVIRONMENT=IMAGE pairs, such as pong=registry.example/pong-runtime:1); the others get
    /// `k8s-agent-runtime-image`.
    #[arg(long, env = "EXECUTOR_K8S_AGENT_RUNTIME_IMAGES", value_delimiter = ',')]
    pub k8s_agent_runtime_images: Vec<String>,
    /// Image pull policy of the `agent-N` containers (agents' own images and the runtime images): Always,
    /// IfNotPresent or Never.
    #[arg(long, env = "EXECUTOR_K8S_AGENT_IMAGE_PULL_POLICY", default_value = "IfNotPresent",
          value_parser = ["Always", "IfNotPresent", "Never"])]
    pub k8s_agent_image_pull_policy: String,
    /// CPU request of each `agent-N` container.
    #[arg(long, env = "EXECUTOR_K8S_AGENT_CPU_REQUEST", default_value = "500m")]
    pub k8s_agent_cpu_request: String,
    /// CPU limit of each `agent-N` container.
    #[arg(long, env = "EXECUTOR_K8S_AGENT_CPU_LIMIT", default_value = "1")]
    pub k8s_agent_cpu_limit: String,
    /// Memory of each `agent-N` container on top of its agent's address-space limit (`limits.memory_mb`): the
    /// agent shim and the kernel's buffers. The agent reaches its own limit (and is charged for it) before its
    /// container is OOMKilled. Request and limit are the same.
    #[arg(
        long,
        env = "EXECUTOR_K8S_AGENT_MEMORY_HEADROOM",
        default_value = "64Mi"
    )]
    pub k8s_agent_memory_headroom: String,
    /// Largest memory limit of an `agent-N` container: a request whose agents' `limits.memory_mb` plus the
    /// headroom exceed it is refused.
    #[arg(long, env = "EXECUTOR_K8S_AGENT_MEMORY_LIMIT", default_value = "8Gi")]
    pub k8s_agent_memory_limit: String,
    /// CPU request of each `agent-N-init` container.
    #[arg(long, env = "EXECUTOR_K8S_INIT_CPU_REQUEST", default_value = "100m")]
    pub k8s_init_cpu_request: String,
    /// CPU limit of each `agent-N-init` container.
    #[arg(long, env = "EXECUTOR_K8S_INIT_CPU_LIMIT", default_value = "1")]
    pub k8s_init_cpu_limit: String,
    /// Memory request of each `agent-N-init` container.
    #[arg(
        long,
        env = "EXECUTOR_K8S_INIT_MEMORY_REQUEST",
        default_value = "128Mi"
    )]
    pub k8s_init_memory_request: String,
    /// Memory limit of each `agent-N-init` container.
    #[arg(long, env = "EXECUTOR_K8S_INIT_MEMORY_LIMIT", default_value = "512Mi")]
    pub k8s_init_memory_limit: String,
    /// Node selector of the match pods (comma-separated key=value pairs).
    #[arg(long, env = "EXECUTOR_K8S_NODE_SELECTOR", value_delimiter = ',')]
    pub k8s_node_selector: Vec<String>,
    /// Tolerations of the match pods as a JSON array of Kubernetes Toleration objects.
    #[arg(long, env = "EXECUTOR_K8S_TOLERATIONS")]
    pub k8s_tolerations: Option<String>,
    /// PriorityClass of the match pods.
    #[arg(long, env = "EXECUTOR_K8S_PRIORITY_CLASS")]
    pub k8s_priority_class: Option<String>,
    /// RuntimeClass of the match pods (such as `gvisor`).
    #[arg(long, env = "EXECUTOR_K8S_RUNTIME_CLASS")]
    pub k8s_runtime_class: Option<String>,
    /// Seconds the executor waits past a match's budget (`timeout_sec`, the Job's `activeDeadlineSeconds`,
    /// pod start-up and agent installs included) for the stopped orchestrator to report what was played,
    /// before it records the timeout itself.
    #[arg(long, env = "EXECUTOR_K8S_DEADLINE_SLACK_SEC", default_value_t = 5)]
    pub k8s_deadline_slack_sec: u64,
    /// Seconds a finished Job (and its Secret) is kept (`ttlSecondsAfterFinished`).
    #[arg(long, env = "EXECUTOR_K8S_TTL_SEC", default_value_t = 600)]
    pub k8s_ttl_sec: u32,
    /// Seconds a match pod may stay unschedulable before the match fails with a capacity error (on an
    /// autoscaling cluster: the time to provision a node). The match's own budget bounds it too.
    #[arg(long, env = "EXECUTOR_K8S_STARTUP_BUDGET_SEC", default_value_t = 120)]
    pub k8s_startup_budget_sec: u64,
    /// Seconds a container may wait in a reason the kubelet retries (`ErrImagePull`,
    /// `CreateContainerConfigError`, `CreateContainerError`: common on fresh or upgraded nodes) before the
    /// match fails; `ImagePullBackOff` fails at once.
    #[arg(long, env = "EXECUTOR_K8S_TRANSIENT_GRACE_SEC", default_value_t = 60)]
    pub k8s_transient_grace_sec: u64,
    /// User and group id of the match pod's own containers (the orchestrator and the installers). Processes
    /// limits count per user on a node, so this uid should belong to no other workload (not 65532, the uid of
    /// distroless images and of the executor).
    #[arg(long, env = "EXECUTOR_K8S_MATCH_UID", default_value_t = 61000,
          value_parser = clap::value_parser!(i64).range(1..=2_147_483_647))]
    pub k8s_match_uid: i64,
    /// User and group id of seat 1's `agent-1` container (and its `agent-1-init`); seat N runs as this plus
    /// N - 1. Each seat's uid differs from the others' and from `k8s-match-uid`.
    #[arg(long, env = "EXECUTOR_K8S_AGENT_UID_BASE", default_value_t = 61001,
          value_parser = clap::value_parser!(i64).range(1..=2_147_483_647))]
    pub k8s_agent_uid_base: i64,
    /// Sandbox layers without which no match starts (`orchestrator run --require-isolation`): a node that
    /// lacks one (an old kernel, gVisor without Landlock) fails the match with a message naming it. Empty:
    /// none required.
    #[arg(
        long,
        env = "EXECUTOR_K8S_REQUIRE_ISOLATION",
        value_delimiter = ',',
        default_value = "no_new_privs,no_capabilities,rlimits,seccomp,landlock_fs"
    )]
    pub k8s_require_isolation: Vec<String>,
    /// Containers that admission webhooks add to every match pod (a service-mesh sidecar, say): they share the
    /// pod's 12 KiB of termination messages, so the orchestrator's result gets less room.
    #[arg(long, env = "EXECUTOR_K8S_SIDECAR_CONTAINERS", default_value_t = 0)]
    pub k8s_sidecar_containers: u32,
    /// Seconds a finished Job with no waiting request may stay unrecorded before any replica records its result
    /// from the termination message.
    #[arg(long, env = "EXECUTOR_K8S_ADOPT_GRACE_SEC", default_value_t = 10)]
    pub k8s_adopt_grace_sec: u64,
    /// URL at which match pods reach the executor Service's MatchReporter, such as
    /// http://rl-arena-executor.rl-arena:50051. Required with `--backend kubernetes`.
    #[arg(long, env = "EXECUTOR_REPORT_ADDRESS")]
    pub report_address: Option<String>,
    /// File holding the key of the report tokens (HMAC-SHA256 of the match id), shared by all replicas through
    /// a Secret. Required with `--backend kubernetes`.
    #[arg(long, env = "EXECUTOR_REPORT_TOKEN_KEY_FILE")]
    pub report_token_key_file: Option<PathBuf>,
}

/// Default agent limits and the bounds within which a request may change them.
#[derive(Debug, Clone, Args, Serialize)]
pub struct AgentLimitArgs {
    /// Time an agent has to start and answer `ready`, in milliseconds.
    #[arg(long, env = "EXECUTOR_AGENT_INIT_MS", default_value_t = 10_000)]
    pub agent_init_ms: u64,
    /// Largest `limits.init_ms` a request may ask for.
    #[arg(long, env = "EXECUTOR_AGENT_MAX_INIT_MS", default_value_t = 60_000)]
    pub agent_max_init_ms: u64,
    /// Time an agent has for each move before its time bank is drawn on, in milliseconds.
    #[arg(long, env = "EXECUTOR_AGENT_STEP_MS", default_value_t = 200)]
    pub agent_step_ms: u64,
    /// Largest `limits.step_ms` a request may ask for.
    #[arg(long, env = "EXECUTOR_AGENT_MAX_STEP_MS", default_value_t = 10_000)]
    pub agent_max_step_ms: u64,
    /// Extra thinking time an agent may spend over the whole match, in milliseconds.
    #[arg(long, env = "EXECUTOR_AGENT_BANK_MS", default_value_t = 10_000)]
    pub agent_bank_ms: u64,
    /// Largest `limits.bank_ms` a request may ask for.
    #[arg(long, env = "EXECUTOR_AGENT_MAX_BANK_MS", default_value_t = 600_000)]
    pub agent_max_bank_ms: u64,
    /// Errors an agent may make (timeouts, invalid actions) before it is disqualified.
    #[arg(long, env = "EXECUTOR_AGENT_MAX_ERRORS", default_value_t = 10)]
    pub agent_max_errors: u32,
    /// Largest `limits.max_errors` a request may ask for.
    #[arg(long, env = "EXECUTOR_AGENT_MAX_ERRORS_CAP", default_value_t = 1000)]
    pub agent_max_errors_cap: u32,
    /// Address-space limit of each agent process, in MiB.
    #[arg(long, env = "EXECUTOR_AGENT_MEMORY_MB", default_value_t = 2048)]
    pub agent_memory_mb: u64,
    /// Largest `limits.memory_mb` a request may ask for.
    #[arg(long, env = "EXECUTOR_AGENT_MAX_MEMORY_MB", default_value_t = 8192)]
    pub agent_max_memory_mb: u64,
}

/// Where agents may come from besides public internet addresses; everything not listed is refused.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct AgentSourceArgs {
    /// Directories under which a request's local `code_url` (a path or file://) may lie, comma-separated.
    /// The path is resolved (symlinks, `..`) before the check and must lie strictly below a root; a relative
    /// `code_url` is taken relative to the first root. A path outside gets the same refusal whether or not it
    /// exists. The data directory (and a file:// store) must lie outside every root. Repeatable; an empty
    /// value means none. Default: none, so local code is refused.
    #[arg(long, env = "EXECUTOR_LOCAL_CODE_ROOTS", value_name = "DIR,...")]
    pub local_code_roots: Vec<String>,
    /// Hosts that `agent-init` may download agents from besides public internet addresses, comma-separated:
    /// host names, IP addresses or CIDR ranges (an in-cluster artifact server, for example
    /// artifacts.arena.svc.cluster.local,10.8.0.0/16). Loopback, private, link-local and cloud metadata
    /// addresses are refused unless listed. Passed to `agent-init --allow-hosts` in both backends. Repeatable; an
    /// empty value means none.
    #[arg(
        long,
        env = "EXECUTOR_AGENT_SOURCE_ALLOW_HOSTS",
        value_name = "NAME|IP|CIDR,..."
    )]
    pub agent_source_allow_hosts: Vec<String>,
}

impl AgentSourceArgs {
    /// The configured roots.
    pub(crate) fn roots(&self) -> Vec<PathBuf> {
        items(&self.local_code_roots).map(PathBuf::from).collect()
    }

    /// The allowed hosts.
    pub(crate) fn allow_hosts(&self) -> Vec<String> {
        items(&self.agent_source_allow_hosts)
            .map(str::to_string)
            .collect()
    }
}

/// The items of comma-separated lists given to a repeatable flag, without empty ones (an empty environment
/// variable or value means none).
fn items(lists: &[String]) -> impl Iterator<Item = &str> {
    lists
        .iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Where the helper binaries are; by default beside the executor's own executable.
#[derive(Debug, Clone, Args, Serialize)]
pub struct BinaryArgs {
    /// Path of the `orchestrator` binary.
    #[arg(long, env = "EXECUTOR_ORCHESTRATOR_BIN")]
    pub orchestrator_bin: Option<PathBuf>,
    /// Path of the `agent-init` binary.
    #[arg(long, env = "EXECUTOR_AGENT_INIT_BIN")]
    pub agent_init_bin: Option<PathBuf>,
    /// Python interpreter the orchestrator uses for Python module agents.
    #[arg(long, env = "EXECUTOR_PYTHON", default_value = "python3")]
    pub python: String,
}

/// Options of `executor play`.
#[derive(Debug, Clone, Args)]
pub struct PlayArgs {
    /// Agent directories, archives or `file://` URLs (or remote URLs), one per player in seat order. An
    /// embedded executor allows the directories holding the local ones as its local code roots.
    #[arg(required = true, num_args = 1..)]
    pub agents: Vec<String>,
    /// Environment to play.
    #[arg(long = "env", env = "EXECUTOR_PLAY_ENV", default_value = "pong")]
    pub environment: String,
    /// Match id; a fresh one is made when omitted.
    #[arg(long, env = "EXECUTOR_PLAY_MATCH_ID")]
    pub match_id: Option<String>,
    /// Seed; 0 lets the executor pick one.
    #[arg(long, env = "EXECUTOR_PLAY_SEED", default_value_t = 0)]
    pub seed: u64,
    /// Environment configuration as a JSON object, for example '{"winning_score": 3}'.
    #[arg(long = "env-config", env = "EXECUTOR_PLAY_ENV_CONFIG")]
    pub env_config: Option<String>,
    /// Match time budget in seconds (0: the executor's default).
    #[arg(long, env = "EXECUTOR_PLAY_TIMEOUT_SEC", default_value_t = 0)]
    pub timeout_sec: u32,
    /// Address of a running executor, such as http://127.0.0.1:50051; without it an embedded one is used.
    #[arg(long, env = "EXECUTOR_PLAY_ADDR")]
    pub addr: Option<String>,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

impl ServeArgs {
    /// Checks values that clap cannot.
    pub fn check(&self) -> Result<()> {
        let c = &self.connections;
        if c.max_grpc_connections == 0 || c.max_http_connections == 0 {
            return Err(Error::InvalidConfig(
                "max-grpc-connections and max-http-connections must be at least 1".into(),
            ));
        }
        if c.connection_first_request_timeout_ms == 0 || c.connection_idle_timeout_ms == 0 {
            return Err(Error::InvalidConfig(
                "connection-first-request-timeout-ms and connection-idle-timeout-ms must be greater than 0"
                    .into(),
            ));
        }
        self.executor.check()
    }

    /// The HTTP listen address, `None` when disabled.
    pub fn http_addr(&self) -> Result<Option<SocketAddr>> {
        if self.http_listen.eq_ignore_ascii_case("off") || self.http_listen.is_empty() {
            return Ok(None);
        }
        self.http_listen.parse().map(Some).map_err(|e| {
            Error::InvalidConfig(format!(
                "http-listen {:?}: {e}; give host:port or off",
                self.http_listen
            ))
        })
    }
}

impl ExecutorArgs {
    /// The largest replay a report stream may carry.
    pub(crate) fn report_replay_cap(&self) -> u64 {
        self.test_report_replay_cap_bytes
            .map_or(self.max_replay_bytes, |cap| cap.min(self.max_replay_bytes))
    }

    /// Checks values that clap cannot.
    pub fn check(&self) -> Result<()> {
        self.check_limits()?;
        let bad = |msg: &str| Err(Error::InvalidConfig(msg.to_string()));
        if self.backend == BackendKind::Kubernetes {
            let k = &self.kubernetes;
            if k.report_address.as_deref().is_none_or(str::is_empty) {
                return bad(
                    "--backend kubernetes needs --report-address: the URL at which match pods reach the executor \
                     Service, such as http://rl-arena-executor.rl-arena:50051",
                );
            }
            if k.report_token_key_file.is_none() {
                return bad(
                    "--backend kubernetes needs --report-token-key-file: a key file shared by all replicas (mount \
                     it from a Secret)",
                );
            }
        }
        Ok(())
    }

    /// Checks the match limits (what `render-job` needs too).
    pub fn check_limits(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::InvalidConfig(msg.to_string()));
        if self.max_concurrent_matches == 0 {
            return bad("max-concurrent-matches must be at least 1");
        }
        if self.max_replay_bytes == 0 {
            return bad(
                "max-replay-bytes must be at least 1; requests that want no replay say so with record_replay",
            );
        }
        if self.default_timeout_sec == 0 || self.default_timeout_sec > self.max_timeout_sec {
            return bad("default-timeout-sec must be between 1 and max-timeout-sec");
        }
        let l = &self.agent_limits;
        if l.agent_init_ms == 0 || l.agent_step_ms == 0 {
            return bad("agent-init-ms and agent-step-ms must be greater than 0");
        }
        if l.agent_init_ms > l.agent_max_init_ms
            || l.agent_step_ms > l.agent_max_step_ms
            || l.agent_bank_ms > l.agent_max_bank_ms
            || l.agent_max_errors > l.agent_max_errors_cap
            || l.agent_memory_mb > l.agent_max_memory_mb
        {
            return bad(
                "each agent default must not exceed its maximum (for example agent-step-ms <= agent-max-step-ms)",
            );
        }
        Ok(())
    }
}

/// Parses the command line with the config file and environment applied.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut command = Cli::command();
    if let Some(path) = config_path(&args) {
        let defaults = read_file(&path)
            .and_then(|table| file_defaults(&command, &table))
            .map_err(|e| {
                command.error(
                    clap::error::ErrorKind::InvalidValue,
                    format!("config file {}: {e}", path.display()),
                )
            })?;
        command = command
            .mut_subcommand("serve", |c| apply_defaults(c, &defaults))
            .mut_subcommand("play", |c| apply_defaults(c, &defaults))
            .mut_subcommand("render-job", |c| apply_defaults(c, &defaults))
            .mut_subcommand("config", |c| {
                c.mut_subcommand("print", |p| apply_defaults(p, &defaults))
            });
    }
    let matches = command.try_get_matches_from(&args)?;
    Cli::from_arg_matches(&matches)
}

/// `--config PATH` / `--config=PATH` on the command line, else `EXECUTOR_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(value) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
    }
    std::env::var_os("EXECUTOR_CONFIG").map(PathBuf::from)
}

fn read_file(path: &std::path::Path) -> std::result::Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    text.parse::<toml::Table>()
        .map_err(|e| e.message().to_string())
}

/// The file's entries as (long flag, value) pairs, checked against the flags of `serve`.
fn file_defaults(
    command: &clap::Command,
    table: &toml::Table,
) -> std::result::Result<Vec<(String, String)>, String> {
    let serve = command.find_subcommand("serve").ok_or("no serve command")?;
    table
        .iter()
        .map(|(key, value)| {
            let long = key.replace('_', "-");
            let Some(arg) = serve
                .get_arguments()
                .find(|a| a.get_long() == Some(long.as_str()))
            else {
                return Err(format!(
                    "unknown key {key:?}; keys are the long flag names of `executor serve --help`"
                ));
            };
            let is_list = matches!(arg.get_action(), clap::ArgAction::Append);
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                // A list flag takes its items comma-separated.
                toml::Value::Array(items) if is_list => items
                    .iter()
                    .map(|item| match item {
                        toml::Value::String(s) => Ok(s.clone()),
                        toml::Value::Integer(i) => Ok(i.to_string()),
                        other => Err(format!(
                            "key {key:?}: a list may hold strings and numbers, not a {}",
                            other.type_str()
                        )),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .join(","),
                other => {
                    return Err(format!(
                        "key {key:?}: a {} is not a string, number or boolean",
                        other.type_str()
                    ));
                }
            };
            // An empty list is the flag's own default: none.
            Ok((!(is_list && text.is_empty())).then_some((long, text)))
        })
        .filter_map(std::result::Result::transpose)
        .collect()
}

/// Makes the file's values the defaults of the flags this command has, so environment and flags still win.
fn apply_defaults(mut command: clap::Command, defaults: &[(String, String)]) -> clap::Command {
    for (long, value) in defaults {
        let id = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
            .map(|a| a.get_id().clone());
        if let Some(id) = id {
            let value = value.clone();
            command = command.mut_arg(id, |arg| arg.default_value(value));
        }
    }
    command
}

#[cfg(test)]
mod tests;
