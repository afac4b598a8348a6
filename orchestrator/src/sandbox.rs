//! The agent sandbox: isolation layers, each applied in the agent's child process before the agent program
//! starts, each reported in the outcome as applied or unavailable (with the reason).
//!
//! - [`child`]: the only module with `unsafe`: what runs between `fork` and `exec`, kernel probes, and the
//!   child that kills a dedicated user's processes.
//! - `seccomp`: the system-call allow-list (threads only, no sockets, no metadata changes, no shared memory or
//!   IPC objects, signals, priorities and limits of the agent itself only, every other ABI refused).
//! - `fs_rules`: the Landlock ruleset (read-only runtime, agent directory and configured paths, writable
//!   scratch, no TCP) and the resolution of an `agent.toml` command inside it.
//! - `identity`: dedicated agent users, when the orchestrator may change user ids.
//! - `usage`: what an agent uses (scratch blocks, deleted files kept open, threads, CPU time).
//! - `spawner`: the long-lived thread that forks agents, so that their parent-death signal means "the
//!   orchestrator died".
//!
//! No layer needs root, user namespaces or a container runtime; with the privilege to change user ids, each
//! agent also gets a user of its own. Layers the machine lacks are skipped and reported; [`missing_required`]
//! lets a match refuse to start without them.

pub mod child;
mod fs_rules;
mod identity;
mod seccomp;
mod spawner;
mod usage;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proto::outcome::Isolation;
use proto::spec::Limits;

use child::ChildSetup;
pub use fs_rules::resolve_program;
pub use identity::{Tenancy, UidRange};
pub use spawner::spawn;
pub use usage::{cpu_time, scratch_usage, threads, unlinked_bytes};

/// Lines are bounded, stdin writes cannot block the match, stderr is drained into a bounded buffer.
pub const BOUNDED_IO: &str = "bounded_io";
/// The agent leads its own process group, which is killed as a whole.
pub const PROCESS_GROUP: &str = "process_group";
/// The environment is cleared to an allow-list.
pub const CLEAN_ENV: &str = "clean_env";
/// Descriptors other than stdin, stdout and stderr are closed at `exec`.
pub const CLOSED_FDS: &str = "closed_fds";
/// The agent is killed when the orchestrator dies.
pub const PARENT_DEATH: &str = "parent_death_signal";
/// The agent is the OOM killer's first choice.
pub const OOM_SCORE: &str = "oom_score";
/// Limits on address space, file size, open files, core dumps, CPU seconds and processes.
pub const RLIMITS: &str = "rlimits";
/// The agent runs under a uid and gid of its own, used by nothing else (when the orchestrator may set one).
pub const DEDICATED_UID: &str = "dedicated_uid";
/// No privileges can be gained through `exec`.
pub const NO_NEW_PRIVS: &str = "no_new_privs";
/// Every capability set is empty (matters when the orchestrator runs as root).
pub const CAPABILITIES: &str = "no_capabilities";
/// The system-call filter.
pub const SECCOMP: &str = "seccomp";
/// Landlock file-system rules.
pub const LANDLOCK_FS: &str = "landlock_fs";
/// Landlock TCP rules (bind and connect denied).
pub const LANDLOCK_NET: &str = "landlock_net";
/// Landlock scopes: abstract Unix sockets and signals stay inside the agent's domain.
pub const LANDLOCK_SCOPES: &str = "landlock_scopes";
/// The agent not on move in a turn-based game is stopped until its turn.
pub const PAUSE_OFF_TURN: &str = "pause_off_turn";
/// In a simultaneous game the agents think one after the other, each alone, the others stopped.
pub const SERIAL_THINKING: &str = "serial_thinking";

/// Every layer, in the order they are reported.
pub const LAYERS: &[&str] = &[
    BOUNDED_IO,
    PROCESS_GROUP,
    CLEAN_ENV,
    CLOSED_FDS,
    PARENT_DEATH,
    OOM_SCORE,
    DEDICATED_UID,
    RLIMITS,
    NO_NEW_PRIVS,
    CAPABILITIES,
    SECCOMP,
    LANDLOCK_FS,
    LANDLOCK_NET,
    LANDLOCK_SCOPES,
    PAUSE_OFF_TURN,
    SERIAL_THINKING,
];

/// Layers that are part of how agents are run and cannot be switched off.
const ALWAYS_ON: &[&str] = &[BOUNDED_IO, PROCESS_GROUP, CLEAN_ENV];

/// Open files an agent may hold.
const OPEN_FILES: u64 = 256;
/// Threads an agent may have. With a dedicated user the kernel enforces it (the process-count rlimit of that
/// user); otherwise the orchestrator checks it between steps.
pub const THREADS: u64 = 256;
/// Processes (and threads) of the agent's user when the user is shared with the orchestrator: the kernel
/// counts every process of the user, so this is only a backstop.
const PROCESSES: u64 = 4096;
/// CPU seconds on top of the match budget before the kernel kills an agent (a backstop: the match budget
/// ends matches long before).
const CPU_SLACK_SEC: u64 = 5;

/// Sandbox settings of the orchestrator (flags and environment), on top of the spec's.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Layers without which no match may start.
    pub required: Vec<String>,
    /// Layers switched off on purpose, for runtimes that cannot live with them.
    pub disabled: Vec<String>,
    /// Extra directories agents may read and execute, for runtimes outside `/usr` (such as `/opt/conda`).
    pub read_paths: Vec<PathBuf>,
    /// Where the agents' scratch directories are made and kept; `None`: a temporary directory removed when
    /// the match ends.
    pub scratch_root: Option<PathBuf>,
    /// The dedicated users agents run as when the orchestrator may change user ids; `None`: agents run as
    /// the orchestrator's user.
    pub uids: Option<UidRange>,
}

impl SandboxOptions {
    /// Checks layer names; `Err` names the unknown ones and lists the known ones.
    pub fn check(&self) -> Result<(), String> {
        check_names("required", &self.required)?;
        check_names("disabled", &self.disabled)?;
        if let Some(name) = self
            .disabled
            .iter()
            .find(|n| ALWAYS_ON.contains(&n.as_str()))
        {
            return Err(format!("isolation layer {name} cannot be disabled"));
        }
        if let Some(root) = self
            .read_paths
            .iter()
            .find(|p| p.canonicalize().is_ok_and(|c| c.parent().is_none()))
        {
            return Err(format!(
                "agent read path {} is the root directory: agents would read everything; name the runtime's \
                 own directories",
                root.display()
            ));
        }
        Ok(())
    }

    fn disabled(&self, layer: &str) -> bool {
        self.disabled.iter().any(|d| d == layer)
    }
}

/// Checks that every name is a known layer.
pub fn check_names(what: &str, names: &[String]) -> Result<(), String> {
    match names.iter().find(|n| !LAYERS.contains(&n.as_str())) {
        Some(name) => Err(format!(
            "{what} isolation layer {name:?} is unknown; known layers: {}",
            LAYERS.join(", ")
        )),
        None => Ok(()),
    }
}

/// One agent's sandbox, as it will be applied.
#[derive(Debug)]
pub struct Prepared {
    /// What will be (and, after [`verify_started`], was) in force.
    pub isolation: Isolation,
    /// The private writable directory: the agent's `HOME` and `TMPDIR`.
    pub scratch: PathBuf,
    setup: ChildSetup,
    /// The agent's dedicated user, when it has one.
    tenancy: Option<Tenancy>,
}

impl Prepared {
    /// Registers the child-side setup on `command`; returns the seat's hold on its dedicated user, to be
    /// kept as long as the agent lives.
    pub fn install(self, command: &mut tokio::process::Command) -> Option<Tenancy> {
        self.setup.install(command);
        self.tenancy
    }

    /// The uid the agent will run as, when it has a dedicated one.
    pub fn uid(&self) -> Option<u32> {
        self.tenancy.as_ref().map(|t| t.identity().uid)
    }
}

/// What an agent is and what it may use.
#[derive(Debug)]
pub struct AgentBox<'a> {
    /// The agent's directory (read-only for it).
    pub dir: &'a Path,
    /// Where its private writable directory is made (inside the match's temporary directory).
    pub scratch: PathBuf,
    /// The installation of the interpreter the operator configured, for Python module agents.
    pub runtime: &'a [PathBuf],
    /// The interpreter the operator configured, for Python module agents: a dedicated user must be able to
    /// run it.
    pub interpreter: Option<&'a Path>,
    /// Whether no other seat of the match runs from `dir` (it is then opened to this seat's user only).
    pub own_dir: bool,
    pub limits: &'a Limits,
    /// Whether the game is turn-based (the agent is paused off turn).
    pub turn_based: bool,
}

/// What this kernel offers, probed once.
#[derive(Debug)]
struct Probes {
    landlock: Result<i32, String>,
    seccomp: Result<Vec<seccompiler::BpfProgram>, String>,
}

fn probes() -> &'static Probes {
    static PROBES: OnceLock<Probes> = OnceLock::new();
    PROBES.get_or_init(|| {
        let seccomp = match std::fs::read_to_string("/proc/self/status") {
            Ok(status) if status.contains("Seccomp_filters:") => seccomp::programs(),
            Ok(_) => Err("the kernel has no seccomp filter support".to_string()),
            Err(e) => Err(format!(
                "cannot read /proc/self/status to probe seccomp: {e}"
            )),
        };
        Probes {
            landlock: child::landlock_abi(),
            seccomp,
        }
    })
}

/// The isolation report being built for one agent: each layer is applied, unavailable with a reason, or
/// disabled by configuration.
struct Report<'a> {
    options: &'a SandboxOptions,
    isolation: Isolation,
}

impl Report<'_> {
    /// Records `name` as `available` says, or as disabled; true when the layer is to be applied.
    fn layer(&mut self, name: &str, available: Result<(), String>) -> bool {
        let isolation = &mut self.isolation;
        if self.options.disabled(name) {
            isolation
                .unavailable
                .push(format!("{name}: disabled by configuration"));
            return false;
        }
        match available {
            Ok(()) => {
                isolation.applied.push(name.to_string());
                true
            }
            Err(reason) => {
                isolation.unavailable.push(format!("{name}: {reason}"));
                false
            }
        }
    }
}

/// Builds one agent's sandbox: probes the kernel, creates the scratch directory, prepares every layer's
/// data for the child. `Err` is an infrastructure failure (the scratch directory cannot be created, no
/// dedicated user is free).
pub fn prepare(options: &SandboxOptions, agent: &AgentBox<'_>) -> Result<Prepared, String> {
    let probes = probes();
    let mut report = Report {
        options,
        isolation: Isolation::default(),
    };
    let mut setup = ChildSetup::default();
    let scratch = agent.scratch.clone();
    make_scratch(&scratch)?;
    report.layer(BOUNDED_IO, Ok(()));
    report.layer(PROCESS_GROUP, Ok(()));
    report.layer(CLEAN_ENV, Ok(()));
    setup.close_fds = report.layer(CLOSED_FDS, Ok(()));
    if report.layer(PARENT_DEATH, Ok(())) {
        setup.parent_pid = i32::try_from(std::process::id()).ok();
    }
    if report.layer(OOM_SCORE, Ok(())) {
        setup.oom_score_path = CString::new("/proc/self/oom_score_adj").ok();
    }
    let tenancy = dedicated_user(options, agent, &mut report, &mut setup)?;
    if report.layer(RLIMITS, Ok(())) {
        setup.rlimits = rlimits(agent.limits, tenancy.is_some());
    }
    setup.no_new_privs = report.layer(NO_NEW_PRIVS, Ok(()));
    setup.drop_capabilities = report.layer(CAPABILITIES, Ok(()));
    let seccomp_ready = probes.seccomp.as_ref().map(|_| ()).map_err(Clone::clone);
    if report.layer(SECCOMP, seccomp_ready) {
        if let Ok(programs) = &probes.seccomp {
            setup.seccomp = programs.clone();
        }
    }
    landlock(options, agent, &probes.landlock, &mut report, &mut setup);
    let thinking = if agent.turn_based {
        PAUSE_OFF_TURN
    } else {
        SERIAL_THINKING
    };
    report.layer(thinking, Ok(()));
    Ok(Prepared {
        isolation: report.isolation,
        scratch,
        setup,
        tenancy,
    })
}

/// The agent's dedicated user, when the orchestrator may give it one: a free uid of the range, the files it
/// changes hands on, and a passage to an interpreter behind a private directory.
fn dedicated_user(
    options: &SandboxOptions,
    agent: &AgentBox<'_>,
    report: &mut Report<'_>,
    setup: &mut ChildSetup,
) -> Result<Option<Tenancy>, String> {
    let mut passage = None;
    let available = match (&options.uids, agent.interpreter) {
        (None, _) => Err("no agent uid range is configured".to_string()),
        (Some(range), interpreter) => range.check().and_then(|()| match interpreter {
            Some(python) if !range.can_run(python) => {
                identity::passage(agent.runtime, agent.dir, &agent.scratch)
                    .map(|made| passage = Some(made))
                    .map_err(|why| {
                        format!(
                            "the Python interpreter {} cannot be run by the dedicated agent users (a \
                             directory on its path is not searchable by others) and {why}; install one every \
                             user can run and point --python at it",
                            python.display()
                        )
                    })
            }
            _ => Ok(()),
        }),
    };
    let (true, Some(range)) = (report.layer(DEDICATED_UID, available), &options.uids) else {
        return Ok(None);
    };
    let identity = range.acquire()?;
    setup.identity = Some((identity.uid, identity.gid));
    setup.passage = passage;
    Tenancy::new(identity, &agent.scratch, agent.dir, agent.own_dir).map(Some)
}

/// The Landlock layers: the ruleset of what the agent may read and write, TCP and scopes where the kernel
/// has them.
fn landlock(
    options: &SandboxOptions,
    agent: &AgentBox<'_>,
    abi: &Result<i32, String>,
    report: &mut Report<'_>,
    setup: &mut ChildSetup,
) {
    let wanted = [LANDLOCK_FS, LANDLOCK_NET, LANDLOCK_SCOPES]
        .iter()
        .any(|l| !options.disabled(l));
    let built = match (abi, wanted) {
        (Ok(abi), true) => {
            let paths = fs_rules::Paths {
                read: fs_rules::read_paths(options, agent),
                read_write: vec![agent.scratch.clone()],
            };
            fs_rules::build(*abi, &paths)
        }
        (Ok(_), false) => Err("disabled by configuration".to_string()),
        (Err(reason), _) => Err(reason.clone()),
    };
    let built = match built {
        Ok(built) => built,
        Err(reason) => {
            for name in [LANDLOCK_FS, LANDLOCK_NET, LANDLOCK_SCOPES] {
                report.layer(name, Err(reason.clone()));
            }
            return;
        }
    };
    let need = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("the kernel's Landlock ABI {what}"))
        }
    };
    let fs = report.layer(LANDLOCK_FS, Ok(()));
    report.layer(
        LANDLOCK_NET,
        need(built.net, "has no TCP rules (needs ABI 4)"),
    );
    report.layer(
        LANDLOCK_SCOPES,
        need(built.scopes, "has no scopes (needs ABI 6)"),
    );
    // The ruleset is one object: a partly disabled Landlock still restricts everything it handles.
    if fs {
        setup.landlock_proc_self = CString::new("/proc/self")
            .ok()
            .map(|p| (p, built.proc_self_access));
    }
    setup.landlock = Some(built.fd);
}

/// The rlimits of an agent: `(resource, soft, hard)`. With a dedicated user the process count is the
/// agent's own threads; otherwise the kernel counts every process of the orchestrator's user.
fn rlimits(limits: &Limits, dedicated: bool) -> Vec<(libc::c_int, u64, u64)> {
    let processes = if dedicated { THREADS } else { PROCESSES };
    let mib = 1024 * 1024;
    let cpu = (limits.match_ms + limits.init_ms) / 1000 + CPU_SLACK_SEC;
    let mut out = vec![
        (
            libc::RLIMIT_FSIZE as libc::c_int,
            limits.scratch_mb * mib,
            limits.scratch_mb * mib,
        ),
        (libc::RLIMIT_NOFILE as libc::c_int, OPEN_FILES, OPEN_FILES),
        (libc::RLIMIT_CORE as libc::c_int, 0, 0),
        (libc::RLIMIT_CPU as libc::c_int, cpu, cpu + 1),
        (libc::RLIMIT_NPROC as libc::c_int, processes, processes),
    ];
    if limits.memory_mb > 0 {
        let bytes = limits.memory_mb.saturating_mul(mib);
        out.push((libc::RLIMIT_AS as libc::c_int, bytes, bytes));
    }
    out
}

/// Creates an empty scratch directory (removing what an earlier run left), private to the agent's user.
fn make_scratch(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if path.exists() {
        std::fs::remove_dir_all(path)
            .map_err(|e| format!("clearing scratch directory {}: {e}", path.display()))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| format!("creating scratch directory {}: {e}", path.display()))
}

/// Checks, from the outside, the layers that the kernel shows in `/proc/<pid>/status` of the started
/// agent; a layer that is not in force moves from `applied` to `unavailable`.
/// `uid` is the dedicated user the agent should run as, when it has one.
pub fn verify_started(pid: u32, uid: Option<u32>, isolation: &mut Isolation) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        // The agent already exited; nothing to check.
        return;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let empty = |name: &str| field(name).trim_start_matches('0').is_empty();
    let uids_are = |uid: u32| {
        field("Uid")
            .split_whitespace()
            .all(|u| u == uid.to_string())
    };
    let checks: [(&str, bool); 4] = [
        (DEDICATED_UID, uid.is_none_or(uids_are)),
        (SECCOMP, field("Seccomp") == "2"),
        (NO_NEW_PRIVS, field("NoNewPrivs") == "1"),
        // No capability now, and none to gain: an empty bounding set, or no new privileges through `exec`
        // (an unprivileged orchestrator cannot empty the bounding set).
        (
            CAPABILITIES,
            ["CapEff", "CapPrm", "CapAmb"].iter().all(|f| empty(f))
                && (empty("CapBnd") || field("NoNewPrivs") == "1"),
        ),
    ];
    for (layer, in_force) in checks {
        if !in_force {
            if let Some(i) = isolation.applied.iter().position(|l| l == layer) {
                isolation.applied.remove(i);
                isolation
                    .unavailable
                    .push(format!("{layer}: not in force in the started agent"));
                tracing::warn!(pid, layer, "isolation layer not in force after start");
            }
        }
    }
}

/// Required layers that `isolation` lacks, each with the reason it gave.
pub fn missing_required(
    required: &[String],
    isolation: &Isolation,
    turn_based: bool,
) -> Vec<String> {
    required
        .iter()
        .filter(|r| !isolation.applied.contains(r))
        // Nobody is ever off turn in a simultaneous game, and nobody thinks at the same time as another in a
        // turn-based one: each layer concerns one kind of game.
        .filter(|r| r.as_str() != PAUSE_OFF_TURN || turn_based)
        .filter(|r| r.as_str() != SERIAL_THINKING || !turn_based)
        .map(|r| {
            let prefix = format!("{r}: ");
            isolation
                .unavailable
                .iter()
                .find(|u| u.starts_with(&prefix))
                .cloned()
                .unwrap_or_else(|| format!("{r}: not available"))
        })
        .collect()
}

/// Hardening of the orchestrator process itself, done once at start: it gets SIGTERM when the process that
/// started it (the executor) dies, so the match ends as cancelled and its agents are killed instead of
/// outliving everything; it becomes a child subreaper (orphaned agent descendants are re-parented to it
/// instead of escaping to init) and not dumpable (other processes of its user cannot read its memory or
/// environment through `/proc`).
pub fn harden_orchestrator() {
    let parent = *PARENT.get_or_init(nix::unistd::getppid);
    if let Err(error) = nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGTERM)) {
        tracing::warn!(%error, "cannot ask for a signal when the parent dies; the match may outlive the executor");
    } else if nix::unistd::getppid() != parent {
        // The parent died before the request took effect: act as if the signal came.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM);
    }
    if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(%error, "cannot become a child subreaper; orphaned agent processes escape to init");
    }
    if let Err(error) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(%error, "cannot mark the orchestrator not dumpable");
    }
}

/// The process that started the orchestrator, as [`harden_orchestrator`] found it.
static PARENT: OnceLock<nix::unistd::Pid> = OnceLock::new();

/// Asks again for the parent-death signal `signal` on the calling thread, after the kernel cleared it: any
/// change of a thread's file-system ids (see `identity::as_user`) does. A parent that died in between is
/// acted on at once.
pub(crate) fn rearm_parent_death(signal: nix::sys::signal::Signal) {
    if nix::sys::prctl::set_pdeathsig(Some(signal)).is_err() {
        return;
    }
    if PARENT
        .get()
        .is_some_and(|parent| nix::unistd::getppid() != *parent)
    {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), signal);
    }
}

/// Kills every descendant process still alive (the orchestrator is their subreaper, so nothing an agent
/// started can hide elsewhere) and reaps them. Called when the match is over.
pub fn kill_descendants() {
    let me = std::process::id();
    for _ in 0..8 {
        let children = children_of(me);
        if children.is_empty() {
            return;
        }
        for pid in children {
            let Ok(raw) = i32::try_from(pid) else {
                continue;
            };
            let pid = nix::unistd::Pid::from_raw(raw);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
            tracing::warn!(pid = raw, "killed a leftover agent process");
        }
    }
}

/// Direct children of `pid`, from every thread's `children` list.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
